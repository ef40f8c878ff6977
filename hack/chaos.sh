#!/usr/bin/env bash
# Chaos run (bench/chaos.ts) on a control plane of its own: churn of partitions and gangs on KWOK nodes served by
# one multi-node agent, two operator replicas with leader election, and a seeded schedule of faults (leader
# SIGKILL and SIGSTOP, kube-apiserver and etcd restarts, agent SIGKILL mid-reconfiguration, a corrupt state file).
#   hack/chaos.sh [chaos flags]          defaults: the long run (see node dist/bench/chaos.js --help)
#   hack/chaos.sh --preset short         the ~2 minute run of `make test`
# Runs on its own control plane (state $HAEIN_CHAOS_STATE, default /tmp/haein-chaos, API port 9443) with an
# audit log of every operator write, which is how a stale leader's writes are told apart. A control plane
# already running there is used and left running; one this script starts is stopped at the end.
# Needs dist/ (npm run build).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

# Ports of a control plane this script starts (away from hack/cluster-up.sh's and the scale benchmark's).
own_control_plane HAEIN_CHAOS haein-chaos 9443 6379 6380 14257 14259 14247
KUBECONFIG_FILE="$HAEIN_STATE/admin.kubeconfig"
node_bin="$REPO_ROOT/node_modules/.bin/node"
[ -x "$node_bin" ] || die "npm dependencies missing: run 'npm ci'"
[ -f dist/bench/chaos.js ] && [ -f dist/src/cmd/operator.js ] || die "dist/ is missing: run 'npm run build' first"

k() { "$(hack/tools.sh)/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@" 2> >(grep -v 'version difference' >&2); }

# Each operator replica gets a client certificate of its own, so the audit log names the replica of every write.
replicas=(a b)
policy="$HAEIN_STATE/audit-policy.yaml"
write_policy() {
  mkdir -p "$HAEIN_STATE"
  cat > "$policy" <<YAML
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  # Pod patches and partition/job status writes with their bodies (small), to show what a stale leader wrote.
  - level: Request
    users: [$(printf 'haein-chaos-operator-%s,' "${replicas[@]}" | sed 's/,$//')]
    verbs: [update, patch]
    resources: [{group: "", resources: [pods]}, {group: gpu.haein.dev, resources: [gpupartitions/status, trainingjobs/status]}]
  - level: Metadata
    users: [$(printf 'haein-chaos-operator-%s,' "${replicas[@]}" | sed 's/,$//')]
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
YAML
}

started=0
if [ -f "$KUBECONFIG_FILE" ] && k get --raw /readyz >/dev/null 2>&1; then
  log "using the running control plane in $HAEIN_STATE"
  [ -f "$HAEIN_STATE/logs/audit.log" ] || [ -f "$policy" ] || die "the control plane in $HAEIN_STATE runs without the chaos audit policy; stop it (HAEIN_STATE=$HAEIN_STATE hack/cluster-down.sh) and run again"
else
  log "starting a control plane for the chaos run in $HAEIN_STATE (API port $HAEIN_API_PORT)"
  started=1
  trap 'hack/cluster-down.sh >/dev/null 2>&1 || warn "cluster-down failed; stop it with HAEIN_STATE=$HAEIN_STATE hack/cluster-down.sh"' EXIT
  write_policy
  HAEIN_AUDIT_POLICY="$policy" hack/cluster-up.sh
fi

ip="$(hostname -I 2>/dev/null | awk '{print $1}')"; [ -n "$ip" ] || ip=127.0.0.1
certs=(); kubeconfigs=()
for r in "${replicas[@]}"; do certs+=("chaos-operator-$r:haein-chaos-operator-$r:system:masters"); done
hack/pki.sh "$HAEIN_STATE/pki" "$ip" "${certs[@]}"
for r in "${replicas[@]}"; do
  kc="$HAEIN_STATE/chaos-operator-$r.kubeconfig"
  hack/kubeconfig.sh "$kc" "https://127.0.0.1:$HAEIN_API_PORT" "$HAEIN_STATE/pki/ca.crt" \
    "$HAEIN_STATE/pki/chaos-operator-$r.crt" "$HAEIN_STATE/pki/chaos-operator-$r.key" "haein-chaos-operator-$r"
  kubeconfigs+=("$kc")
done

k apply --server-side --force-conflicts -f charts/haein/crds >/dev/null
k wait --for=condition=Established --timeout=60s -f charts/haein/crds >/dev/null

rc=0
"$node_bin" dist/bench/chaos.js --kubeconfig "$KUBECONFIG_FILE" --cluster-state "$HAEIN_STATE" \
  --operator-kubeconfigs "$(IFS=,; echo "${kubeconfigs[*]}")" --audit-log "$HAEIN_STATE/logs/audit.log" "$@" || rc=$?
[ "$started" = 1 ] && log "stopping the chaos run's control plane"
exit "$rc"
