#!/usr/bin/env bash
# Operator scale benchmark (bench/operator-scale.ts) on a real control plane.
#   hack/scale-bench.sh [bench flags]           default: 128 KWOK nodes x 8 B200, 1000 GpuPartitions, 4 TrainingJobs
#   hack/scale-bench.sh --nodes 16 --partitions 100    quick check
# Runs on its own control plane (state $HAEIN_SCALE_STATE, default /tmp/haein-scale, API port 8443) so that
# no other operator, agent or test shares the API server and the write counts are the benchmark's alone.
# A control plane already running there is used and left running; one this script starts is stopped at the
# end. Set HAEIN_SCALE_STATE=/tmp/haein-cluster to use the cluster of hack/cluster-up.sh instead.
# Needs dist/ (npm run build). Bench flags: node dist/bench/operator-scale.js --help.
# HAEIN_BENCH_SCRIPT runs another benchmark on the same cluster set-up (npm run bench:autoscale uses
# dist/bench/autoscale-bench.js).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

export HAEIN_STATE="${HAEIN_SCALE_STATE:-${TMPDIR:-/tmp}/haein-scale}"
# Ports of a control plane this script starts (away from hack/cluster-up.sh's defaults).
export HAEIN_API_PORT="${HAEIN_SCALE_API_PORT:-8443}" HAEIN_ETCD_PORT="${HAEIN_SCALE_ETCD_PORT:-4379}" \
  HAEIN_ETCD_PEER_PORT="${HAEIN_SCALE_ETCD_PEER_PORT:-4380}" HAEIN_KCM_PORT="${HAEIN_SCALE_KCM_PORT:-12257}" \
  HAEIN_SCHEDULER_PORT="${HAEIN_SCALE_SCHEDULER_PORT:-12259}" HAEIN_KWOK_PORT="${HAEIN_SCALE_KWOK_PORT:-12247}"
KUBECONFIG_FILE="$HAEIN_STATE/admin.kubeconfig"
node_bin="$REPO_ROOT/node_modules/.bin/node"
[ -x "$node_bin" ] || die "npm dependencies missing: run 'npm ci'"
bench_script="${HAEIN_BENCH_SCRIPT:-dist/bench/operator-scale.js}"
[ -f "$bench_script" ] && [ -f dist/src/cmd/operator.js ] || die "dist/ is missing: run 'npm run build' first"

k() { "$(hack/tools.sh)/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@" 2> >(grep -v 'version difference' >&2); }

started=0
if [ -f "$KUBECONFIG_FILE" ] && k get --raw /readyz >/dev/null 2>&1; then
  log "using the running control plane in $HAEIN_STATE"
else
  log "starting a control plane for the benchmark in $HAEIN_STATE (API port $HAEIN_API_PORT)"
  started=1
  trap 'hack/cluster-down.sh >/dev/null 2>&1 || warn "cluster-down failed; stop it with HAEIN_STATE=$HAEIN_STATE hack/cluster-down.sh"' EXIT
  hack/cluster-up.sh
fi

k apply --server-side --force-conflicts -f charts/haein/crds >/dev/null
k wait --for=condition=Established --timeout=60s -f charts/haein/crds >/dev/null

rc=0
"$node_bin" "$bench_script" --kubeconfig "$KUBECONFIG_FILE" --cluster-state "$HAEIN_STATE" "$@" || rc=$?
[ "$started" = 1 ] && log "stopping the benchmark's control plane"
exit "$rc"
