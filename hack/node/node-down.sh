#!/usr/bin/env bash
# Stops node mode and removes every trace of it: node agent, kubelet, containerd and its shims, the pods'
# processes, mounts, network namespaces, the CNI bridge and veths, CNI iptables rules, the kubelet's
# cgroups, host paths the runtime created, and the node state. Leaves the control plane running (that is
# hack/cluster-down.sh's job) but deletes the Node object. Safe to run twice. Needs root.
set -uo pipefail
HACK="$(cd "$(dirname "$0")/.." && pwd)"
source "$HACK/lib.sh"
source "$HACK/proc.sh"
source "$HACK/node/node-lib.sh"

[ "$(id -u)" -eq 0 ] || die "node-down needs root (it unmounts, deletes network interfaces and cgroups). Run: sudo $0"

proc_stop haein-node-agent
proc_stop kubelet

# Pod processes live in the kubelet's cgroups; kill them before their shims so nothing re-parents to init.
cgroup_roots() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup/kubepods; else
    local c; for c in /sys/fs/cgroup/*/; do echo "${c%/}/kubepods"; done
  fi
}
kill_cgroup_tasks() {
  local root procs
  for root in $(cgroup_roots); do
    [ -d "$root" ] || continue
    procs="$(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)"
    [ -n "$procs" ] && kill -KILL $procs 2>/dev/null
  done
  return 0
}
kill_cgroup_tasks

# Our shims carry our containerd socket in their command line; the system's (if any) do not.
shim_pids() {
  local pid
  for pid in $(pgrep -f containerd-shim 2>/dev/null); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -- "-address $CTR_SOCK" >/dev/null && echo "$pid"
  done
}
shims="$(shim_pids)"
proc_stop containerd
[ -n "$shims" ] && kill -KILL $shims 2>/dev/null
sleep 0.2
kill_cgroup_tasks

# Cgroups: remove leaf-first; a cgroup can only go once its tasks are gone.
for root in $(cgroup_roots); do
  [ -d "$root" ] || continue
  for attempt in 1 2 3 4 5; do
    find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ -d "$root" ] || break
    kill_cgroup_tasks; sleep 0.2
  done
  [ -d "$root" ] && warn "cgroup $root could not be removed (tasks left: $(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' '))"
done

# Mounts under the node's state (rootfs overlays, shm, netns, pod volumes), deepest first.
unmount_under() {
  local dir="$1" target
  [ -d "$dir" ] || return 0
  for target in $(findmnt -rn -o TARGET | grep -E "^$dir(/|$)" | sort -r); do
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || warn "cannot unmount $target"
  done
}
unmount_under "$KUBELET_ROOT"
unmount_under "$NODE_STATE"
if [ -f "$HOST_MARKS" ]; then
  for target in $(sed -n 's/^mount=//p' "$HOST_MARKS"); do
    mountpoint -q "$target" && { umount "$target" 2>/dev/null || umount -l "$target" || warn "cannot unmount $target"; }
  done
fi

# Network: the bridge and any veth still attached to it, then the masquerade rules the bridge plugin added.
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  for veth in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$veth" 2>/dev/null
  done
  ip link del "$CNI_BRIDGE" 2>/dev/null || warn "cannot delete interface $CNI_BRIDGE"
fi
if command -v iptables >/dev/null 2>&1; then
  for table in nat filter; do
    # Rules the CNI plugins made for our network carry its name in their comment.
    chains="$(iptables -t "$table" -S 2>/dev/null | grep -F "$CNI_NETWORK" | grep -oE -- '-j CNI-[A-Za-z0-9-]+' | awk '{print $2}' | sort -u)"
    iptables -t "$table" -S 2>/dev/null | grep -F "$CNI_NETWORK" | grep -- '^-A ' | while read -r rule; do
      eval "iptables -t $table ${rule/-A /-D }" 2>/dev/null
    done
    for chain in $chains; do
      iptables -t "$table" -F "$chain" 2>/dev/null && iptables -t "$table" -X "$chain" 2>/dev/null
    done
  done
  # portmap's shared chains hold static rules; they go once no host port of any network uses them.
  if iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1 && ! iptables -t nat -S CNI-HOSTPORT-DNAT | grep '^-A' >/dev/null; then
    for chain in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SNAT CNI-HOSTPORT-SETMARK; do
      iptables -t nat -S 2>/dev/null | grep '^-A' | grep -- "-j $chain\( \|$\)" | while read -r rule; do
        eval "iptables -t nat ${rule/-A /-D }" 2>/dev/null
      done
    done
    for chain in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SNAT CNI-HOSTPORT-SETMARK; do
      iptables -t nat -F "$chain" 2>/dev/null && iptables -t nat -X "$chain" 2>/dev/null
    done
  fi
fi

# Host places recorded by node-up: restore ip_forward, remove what did not exist before.
if [ -f "$HOST_MARKS" ]; then
  fwd="$(sed -n 's/^ip_forward=//p' "$HOST_MARKS")"
  [ -n "$fwd" ] && echo "$fwd" >/proc/sys/net/ipv4/ip_forward
  # Entries the runtime made for our pods, wherever the parent dir came from.
  find /var/log/containers -maxdepth 1 -type l -lname "$POD_LOG_DIR/*" -delete 2>/dev/null
  # libcni caches results per network and sandbox id (containerd also runs a "cni-loopback" network).
  for sandbox in $(find "$CTR_DIR"/{root,state}/io.containerd.grpc.v1.cri/sandboxes -mindepth 1 -maxdepth 1 -printf "%f\n" 2>/dev/null | sort -u); do
    rm -f /var/lib/cni/results/*-"$sandbox"-* 2>/dev/null
  done
  find /var/lib/cni/results -maxdepth 1 -name "$CNI_NETWORK-*" -delete 2>/dev/null
  for sock in /run/containerd/s/*; do
    [ -S "$sock" ] || continue
    ss -xlnH 2>/dev/null | grep -F "$sock" >/dev/null || rm -f "$sock"
  done
  # Deepest first, and only when empty: something else may have started using them meanwhile.
  sed -n 's/^created=//p' "$HOST_MARKS" | sort -r | while read -r dir; do
    find "$dir" -depth -type d -empty -delete 2>/dev/null
    [ -e "$dir" ] && warn "$dir was created by node mode but is not empty; left in place"
  done
fi

# The Node object, so a later node-up (or the operator) does not see a stale NotReady node.
if [ -f "$HAEIN_STATE/admin.kubeconfig" ]; then
  kubectl="$("$HACK/tools.sh" 2>/dev/null)/kubectl"
  [ -x "$kubectl" ] && timeout 15 "$kubectl" --kubeconfig "$HAEIN_STATE/admin.kubeconfig" delete node "$NODE_NAME" \
    --ignore-not-found --wait=false >/dev/null 2>&1
fi

rm -rf "$NODE_STATE" "$KUBELET_ROOT" 2>/dev/null || {
  unmount_under "$KUBELET_ROOT"; unmount_under "$NODE_STATE"; rm -rf "$NODE_STATE" "$KUBELET_ROOT"
} || warn "could not remove all of $NODE_STATE / $KUBELET_ROOT"
rm -f "$HAEIN_STATE"/logs/{kubelet,containerd,haein-node-agent}.log.old
for f in kubelet containerd haein-node-agent; do
  [ -f "$HAEIN_STATE/logs/$f.log" ] && mv "$HAEIN_STATE/logs/$f.log" "$HAEIN_STATE/logs/$f.log.old"
done
log "node mode stopped and cleaned ($NODE_NAME)"
exit 0
