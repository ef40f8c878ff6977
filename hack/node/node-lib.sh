# Paths and settings of node mode (a real kubelet on Debian's containerd). Sourced after hack/lib.sh.
# Everything lives under $HAEIN_STATE so that node-down.sh can remove it; the few host places the
# runtime insists on (/run/containerd/s, /var/lib/cni, /var/log/containers) are recorded and cleaned.

NODE_NAME="${HAEIN_NODE_NAME:-haein-b200-0}"
NODE_GPUS="${HAEIN_NODE_GPUS:-8}"
NODE_MODEL="${HAEIN_NODE_MODEL:-NVIDIA-B200}"
NODE_PRODUCT="${HAEIN_NODE_PRODUCT:-NVIDIA-B200}"
NODE_CLIQUE="${HAEIN_NODE_CLIQUE:-haein-local.0}"
# host: run the node agent as a host process; none: leave it to the chart's DaemonSet (or nobody).
NODE_AGENT_MODE="${HAEIN_NODE_AGENT:-host}"
POD_CIDR="${HAEIN_POD_CIDR:-10.88.0.0/16}"
CNI_NETWORK="haein-node"
CNI_BRIDGE="haein-cni0"
KUBELET_PORT="${HAEIN_KUBELET_PORT:-10250}"
KUBELET_HEALTHZ_PORT="${HAEIN_KUBELET_HEALTHZ_PORT:-10248}"
API_PORT="${HAEIN_API_PORT:-6443}"

NODE_STATE="$HAEIN_STATE/node"
CTR_DIR="$NODE_STATE/containerd"
CTR_SOCK="$CTR_DIR/containerd.sock"
CNI_CONF_DIR="$NODE_STATE/cni/net.d"
CNI_IPAM_DIR="$NODE_STATE/cni/ipam"
RUNC_ROOT="$NODE_STATE/runc"
POD_LOG_DIR="$NODE_STATE/pod-logs"
# The kubelet's root: its device-plugin dir is where the node agent registers.
KUBELET_ROOT="$HAEIN_STATE/kubelet"
DEVICE_PLUGIN_DIR="$KUBELET_ROOT/device-plugins"
POD_RESOURCES_SOCKET="$KUBELET_ROOT/pod-resources/kubelet.sock"
# kubelet 1.33 ignores --root-dir for device plugins (a compiled-in path): DEVICE_PLUGIN_DIR is bind-mounted here.
HOST_DEVICE_PLUGIN_DIR=/var/lib/kubelet/device-plugins
# The node agent's state (realised layout, device UUIDs). The chart's DaemonSet is pointed at the same dir by
# the e2e test, so the devices keep their UUIDs when it takes over from the host agent, as on a real node.
AGENT_STATE_DIR="$NODE_STATE/agent"
# KEY=VALUE facts about the running node for tests and other scripts.
NODE_ENV_FILE="$NODE_STATE/env"
# Host paths the runtime creates outside our state (noted here so node-down only removes what we made).
HOST_MARKS="$NODE_STATE/host-created"

# ctr against our containerd, in the namespace the CRI plugin uses.
node_ctr() { ctr --address "$CTR_SOCK" --namespace k8s.io "$@"; }

# node_alive NAME: like proc_running, but a killed process that init has not reaped yet (a zombie) is dead.
node_alive() {
  local f="$HAEIN_STATE/pids/$1.pid" pid state
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
