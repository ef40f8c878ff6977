#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (the slice map page in test/e2e), so that no test downloads
# a browser of its own. Idempotent: returns at once when /usr/bin/chromium is there. Prints its path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CHROMIUM="${HAEIN_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "$CHROMIUM"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "Chromium is missing. Install it as root: sudo $0   (or: sudo apt-get install -y chromium)"
need apt-get "the browser tests need a Debian/Ubuntu host with apt-get (package: chromium)."

log "installing Debian's chromium (for the slice map browser test)"
export DEBIAN_FRONTEND=noninteractive
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -1440 2>/dev/null | head -1)" ]; then
  apt-get update -qq || die "apt-get update failed: check the network / /etc/apt/sources.list"
fi
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
  || die "apt-get install chromium failed (see the output above)"
[ -x "$CHROMIUM" ] || die "package chromium installed but $CHROMIUM is missing"
log "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
echo "$CHROMIUM"
