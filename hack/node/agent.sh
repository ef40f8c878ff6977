#!/usr/bin/env bash
# Starts or stops the Haein node agent as a host process for the node-mode kubelet: it serves the simulated
# B200 MIG devices through the kubelet's device-plugin dir and reads allocations from its PodResources socket.
# It installs the CRDs first: the agent advertises no device before it has read its GpuNode target layout.
# Usage: hack/node/agent.sh start|stop|restart   (node-up.sh starts it unless HAEIN_NODE_AGENT=none)
set -euo pipefail
HACK="$(cd "$(dirname "$0")/.." && pwd)"
source "$HACK/lib.sh"
source "$HACK/proc.sh"
source "$HACK/node/node-lib.sh"

start() {
  if node_alive haein-node-agent; then log "node agent already running"; return; fi
  local entry="$REPO_ROOT/dist/src/cmd/node-agent.js" node="$REPO_ROOT/node_modules/.bin/node"
  [ -f "$entry" ] || die "$entry missing: run 'npm run build' first"
  [ -x "$node" ] || die "Node 24 ($node) missing: run 'npm ci'"
  node_alive kubelet || die "the node-mode kubelet is not running: start node mode with sudo hack/node/node-up.sh"
  # The device manager creates its registration socket shortly after the kubelet starts.
  wait_until 30 "the kubelet's $DEVICE_PLUGIN_DIR/kubelet.sock" test -S "$DEVICE_PLUGIN_DIR/kubelet.sock" \
    || die "kubelet registration socket $DEVICE_PLUGIN_DIR/kubelet.sock missing after 30s (see $HAEIN_STATE/logs/kubelet.log)"
  # The agent advertises no device before it has read its GpuNode's target layout, which needs the CRDs.
  local kubectl; kubectl="$("$HACK/tools.sh")/kubectl"
  "$kubectl" --kubeconfig "$HAEIN_STATE/admin.kubeconfig" apply --server-side --force-conflicts -f "$REPO_ROOT/crds" >/dev/null \
    || die "installing the CRDs from $REPO_ROOT/crds failed"
  "$kubectl" --kubeconfig "$HAEIN_STATE/admin.kubeconfig" wait --for=condition=Established --timeout=60s -f "$REPO_ROOT/crds" >/dev/null \
    || die "the CRDs in $REPO_ROOT/crds did not become Established within 60s"
  mkdir -p "$AGENT_STATE_DIR"
  log "starting node agent for $NODE_NAME ($NODE_GPUS × $NODE_MODEL) on $DEVICE_PLUGIN_DIR"
  proc_start haein-node-agent "$node" "$entry" --node-name "$NODE_NAME" \
    --kubeconfig "$HAEIN_STATE/admin.kubeconfig" --model "$NODE_MODEL" --gpus "$NODE_GPUS" \
    --device-plugin-dir "$DEVICE_PLUGIN_DIR" --state-file "$AGENT_STATE_DIR/state.json" \
    --pod-resources-socket "$POD_RESOURCES_SOCKET"
  # The agent registers one plugin per resource; the kubelet then publishes them in allocatable.
  # Stale resources stay in allocatable at 0 after a restart: wait until some GPU device is offered again.
  gpu_devices() {
    "$kubectl" --kubeconfig "$HAEIN_STATE/admin.kubeconfig" get node "$NODE_NAME" -o json |
      python3 -c 'import json,sys; a=json.load(sys.stdin)["status"].get("allocatable",{}); print(sum(int(v) for k,v in a.items() if k.startswith("nvidia.com/")))'
  }
  has_gpu_resources() { [ "$(gpu_devices 2>/dev/null || echo 0)" -gt 0 ]; }
  if wait_until 60 "nvidia.com/* resources in the allocatable of $NODE_NAME" has_gpu_resources; then
    log "node agent registered its device plugins: $(gpu_devices) GPU devices allocatable"
  else
    node_alive haein-node-agent || proc_fail haein-node-agent
    warn "the node agent runs but no nvidia.com/* resource is allocatable yet; see $HAEIN_STATE/logs/haein-node-agent.log"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) proc_stop haein-node-agent; log "node agent stopped" ;;
  restart) proc_stop haein-node-agent; start ;;
  *) die "usage: $0 start|stop|restart" ;;
esac
