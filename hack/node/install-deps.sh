#!/usr/bin/env bash
# Installs the Debian packages node mode needs: containerd + runc (container runtime), the CNI plugins,
# iptables (bridge masquerading and portmap), gcc + libc static bits (the pause binary) and a static busybox
# (the test image). Idempotent: returns at once when everything is already there.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

# package → a file it installs, so the check needs no dpkg database query per package.
declare -A probe=(
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
  [busybox-static]=/bin/busybox
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a
)

missing=()
for pkg in "${!probe[@]}"; do
  [ -e "${probe[$pkg]}" ] || missing+=("$pkg")
done
# busybox (dynamic) also owns /bin/busybox: make sure the static flavour is the one installed.
if [[ ! " ${missing[*]} " =~ " busybox-static " ]] && ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep 'ok installed' >/dev/null; then
  missing+=(busybox-static)
fi

if [ ${#missing[@]} -eq 0 ]; then
  log "node-mode packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  die "missing Debian packages: ${missing[*]}. Node mode needs root; run: sudo $0   (or: sudo apt-get install -y ${missing[*]})"
fi
need apt-get "node mode needs a Debian/Ubuntu host with apt-get (missing packages: ${missing[*]})."

log "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -1440 2>/dev/null | head -1)" ]; then
  apt-get update -qq || die "apt-get update failed: check the network / /etc/apt/sources.list"
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || die "apt-get install ${missing[*]} failed (see the output above)"

# The containerd package may start the system daemon; node mode runs its own instance and never uses it.
for pkg in "${!probe[@]}"; do
  [ -e "${probe[$pkg]}" ] || die "package $pkg installed but ${probe[$pkg]} is missing"
done
log "node-mode packages installed"
