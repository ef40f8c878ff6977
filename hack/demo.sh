#!/usr/bin/env bash
# The demo: a local cluster with simulated Blackwell nodes, the operator and node agents, and examples/.
#   hack/demo.sh up     build what is missing, start everything, apply examples/, show `kubectl get haein -A`
#   hack/demo.sh down   stop everything and remove the cluster's state
# As root, one node is real (containerd + kubelet + the device plugin); the others are KWOK nodes whose GPUs
# one node agent simulates. Without root the demo runs on KWOK nodes only and says so.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/proc.sh"
cd "$REPO_ROOT"

SIM_NODES="${HAEIN_DEMO_SIM_NODES:-4}"
KUBECONFIG_FILE="$HAEIN_STATE/admin.kubeconfig"
node_bin="$REPO_ROOT/node_modules/.bin/node"

k() { "$(hack/tools.sh)/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@" 2> >(grep -v 'version difference' >&2); }

# sim_gpunodes_ready: every simulated node has its GpuNode.
sim_gpunodes_ready() { [ "$(k get gpunodes -o name 2>/dev/null | wc -l)" -ge "$SIM_NODES" ]; }

# all_in_phase PLURAL PHASE: every object of that kind in haein-demo has reached PHASE.
all_in_phase() {
  local phases; phases="$(k get "$1" -n haein-demo -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' 2>/dev/null)"
  [ -n "$phases" ] && ! grep -qv "^$2\$" <<<"$phases"
}

# notebook_running: the example pod consuming the notebook partition has started.
notebook_running() { [ "$(k get pod notebook -n haein-demo -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]; }

# notebook_printed: the notebook pod's container has printed its NVIDIA_VISIBLE_DEVICES.
notebook_printed() { k logs notebook -n haein-demo 2>/dev/null | grep -q NVIDIA; }

up() {
  need go "Install Go >= 1.24."
  [ -x "$node_bin" ] || die "npm dependencies missing: run 'npm ci' (or 'make demo', which does it)."
  log "step 1/7: Kubernetes binaries (cached in $BIN_DIR; the first build takes several minutes)"
  hack/build-binaries.sh >/dev/null
  log "step 2/7: compiling Haein (npm run build)"
  npm run --silent build
  log "step 3/7: control plane"
  hack/cluster-up.sh

  log "step 4/7: CRDs, RBAC and admission policy from charts/haein"
  k apply --server-side --force-conflicts -f charts/haein/crds >/dev/null
  k wait --for=condition=Established --timeout=60s -f charts/haein/crds >/dev/null
  k create namespace haein-system --dry-run=client -o yaml | k apply -f - >/dev/null
  # The local API server offers MutatingAdmissionPolicy (v1alpha1): plain NVIDIA-style pods get gated and bound.
  "$(hack/tools.sh)/helm" template haein charts/haein --namespace haein-system \
    --api-versions admissionregistration.k8s.io/v1alpha1/MutatingAdmissionPolicy \
    --show-only templates/serviceaccounts.yaml --show-only templates/rbac-operator.yaml \
    --show-only templates/rbac-node-agent.yaml --show-only templates/admission-policy.yaml \
    --show-only templates/mutating-admission-policy.yaml |
    k apply -f - >/dev/null

  log "step 5/7: GPU nodes"
  if [ "$(id -u)" = 0 ] && [ -z "${HAEIN_DEMO_NO_KUBELET:-}" ]; then
    hack/node/node-up.sh || die "node mode failed (see above); set HAEIN_DEMO_NO_KUBELET=1 to run the demo on simulated nodes only"
  else
    warn "not root (or HAEIN_DEMO_NO_KUBELET set): no real kubelet; all GPU nodes are KWOK-simulated and pods only pretend to run"
  fi
  hack/kwok-nodes.sh create "$SIM_NODES"
  if ! proc_running haein-node-agent-sim; then
    proc_start haein-node-agent-sim "$node_bin" dist/src/cmd/node-agent.js --kubeconfig "$KUBECONFIG_FILE" \
      --node-selector haein.dev/simulated=true --model NVIDIA-B200 --gpus 8 --nodes-per-clique 2 \
      --no-device-plugin --state-dir "$HAEIN_STATE/sim-agent" --health-port 8083
  fi
  wait_until 60 "simulated GpuNodes" sim_gpunodes_ready || proc_fail haein-node-agent-sim

  log "step 6/7: operator"
  if ! proc_running haein-operator; then
    proc_start haein-operator env LOG_LEVEL=info POD_NAMESPACE=haein-system "$node_bin" dist/src/cmd/operator.js \
      --kubeconfig "$HAEIN_STATE/operator.kubeconfig" --metrics-port 8080 --health-port 8081 --slice-map-port 8090 \
      --billing-port 8091
  fi
  wait_until 30 "operator readiness" curl -sf http://127.0.0.1:8081/readyz || proc_fail haein-operator

  log "step 7/7: applying examples/"
  k apply -f examples/ >/dev/null
  local ok=1
  wait_until 180 "partitions Ready" all_in_phase gpupartitions Ready || ok=0
  wait_until 180 "TrainingJob Running" all_in_phase trainingjobs Running || ok=0
  # On the real kubelet the notebook pod really starts; give it time to print what its container sees.
  wait_until 120 "notebook pod Running" notebook_running || ok=0

  echo
  k get haein -A -o wide || true
  echo
  k get pods -n haein-demo -o wide || true
  if notebook_running && [ -d "$HAEIN_STATE/node" ]; then
    echo; log "what the notebook pod's container sees (real kubelet, device plugin Allocate):"
    wait_until 20 "notebook output" notebook_printed || true
    k logs notebook -n haein-demo 2>/dev/null | head -3 || true
    log "and the slice its partition holds: $(k get gpup notebook -n haein-demo -o jsonpath='{.status.allocations[0].uuid} (inUse={.status.allocations[0].inUse})')"
  fi
  echo
  if [ "$ok" = 1 ]; then log "demo is up"; else warn "demo is up but not everything became Ready in time: kubectl describe -n haein-demo gpup,tj; logs in $HAEIN_STATE/logs"; fi
  cat <<MSG
  Point kubectl at the cluster:   export KUBECONFIG=$KUBECONFIG_FILE
  kubectl and helm binaries:      $(hack/tools.sh)
  Look around:                    kubectl get haein -A; kubectl describe gpup -n haein-demo; kubectl get gpunodes -o wide
  Slice map (live, in a browser): http://127.0.0.1:8090/
  From the command line:          node_modules/.bin/node dist/src/cmd/kubectl-haein.js map   (or kubectl haein map, see docs/observability.md)
  Operator logs and metrics:      $HAEIN_STATE/logs/haein-operator.log; curl -s localhost:8080/metrics | grep haein_
  Metered usage (docs/metering.md): kubectl get gpuusages; curl -s "localhost:8091/billing/usage?from=\$(date -u +%Y-%m-%dT00:00:00Z)&to=\$(date -u -d tomorrow +%Y-%m-%dT00:00:00Z)&format=csv"
  Stop everything:                make demo-down
MSG
  [ "$ok" = 1 ]
}

case "${1:-}" in
  up) up ;;
  down) hack/cluster-down.sh ;;
  *) die "usage: $0 up|down" ;;
esac
