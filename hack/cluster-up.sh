#!/usr/bin/env bash
# Starts the local control plane — etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the KWOK
# controller — as host processes on loopback, from binaries built by hack/build-binaries.sh. Needs no root.
# Writes $HAEIN_STATE/admin.kubeconfig. Idempotent: a cluster that is already up is left as it is.
# The API server offers MutatingAdmissionPolicy (alpha in 1.33: feature gate + admissionregistration.k8s.io/v1alpha1),
# so the chart's policy that gates plain NVIDIA-style pods can be tested.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/proc.sh"

API_PORT="${HAEIN_API_PORT:-6443}"
ETCD_PORT="${HAEIN_ETCD_PORT:-2379}"
ETCD_PEER_PORT="${HAEIN_ETCD_PEER_PORT:-2380}"
KCM_PORT="${HAEIN_KCM_PORT:-10257}"
SCHED_PORT="${HAEIN_SCHEDULER_PORT:-10259}"
KWOK_PORT="${HAEIN_KWOK_PORT:-10247}"

need openssl "Install it: apt-get install -y openssl"
need curl "Install it: apt-get install -y curl"

KUBECONFIG_FILE="$HAEIN_STATE/admin.kubeconfig"
if proc_running kube-apiserver && curl -sf --cacert "$HAEIN_STATE/pki/ca.crt" \
    --cert "$HAEIN_STATE/pki/admin.crt" --key "$HAEIN_STATE/pki/admin.key" \
    "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
  log "control plane already running (KUBECONFIG=$KUBECONFIG_FILE)"
  exit 0
fi

for p in "$API_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
  port_free "$p" || die "port $p is in use ($(port_owner "$p")). Stop that process, run 'make cluster-down', or set HAEIN_*_PORT (see hack/cluster-up.sh)."
done

"$(dirname "$0")/build-binaries.sh" >/dev/null
mkdir -p "$HAEIN_STATE"/{logs,pids,etcd}
ip="$(hostname -I 2>/dev/null | awk '{print $1}')"
[ -n "$ip" ] || ip=127.0.0.1
pki="$HAEIN_STATE/pki"
"$(dirname "$0")/pki.sh" "$pki" "$ip"
server="https://127.0.0.1:$API_PORT"
for u in admin controller-manager scheduler operator; do
  "$(dirname "$0")/kubeconfig.sh" "$HAEIN_STATE/$u.kubeconfig" "$server" "$pki/ca.crt" "$pki/$u.crt" "$pki/$u.key" "$u"
done

t0=$(date +%s)
log "starting etcd $ETCD_VERSION"
proc_start etcd "$BIN_DIR/etcd" --name haein --data-dir "$HAEIN_STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "haein=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --quota-backend-bytes 4294967296 \
  --log-level warn
wait_until 30 "etcd health" curl -sf "http://127.0.0.1:$ETCD_PORT/health" || proc_fail etcd

# Optional audit log (hack/chaos.sh uses it to attribute every write to the replica that made it).
audit=()
if [ -n "${HAEIN_AUDIT_POLICY:-}" ]; then
  audit=(--audit-policy-file "$HAEIN_AUDIT_POLICY" --audit-log-path "$HAEIN_STATE/logs/audit.log" --audit-log-format json)
fi
log "starting kube-apiserver $K8S_VERSION on $server"
proc_start kube-apiserver "$BIN_DIR/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address "$ip" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --authorization-mode Node,RBAC --allow-privileged=true --kubelet-preferred-address-types InternalIP,Hostname \
  --max-requests-inflight 1000 --max-mutating-requests-inflight 500 \
  --feature-gates MutatingAdmissionPolicy=true --runtime-config admissionregistration.k8s.io/v1alpha1=true \
  --profiling=false --v 1 "${audit[@]}"
wait_until 90 "kube-apiserver readiness" curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
  "$server/readyz" || proc_fail kube-apiserver

log "starting kube-controller-manager and kube-scheduler"
proc_start kube-controller-manager "$BIN_DIR/kube-controller-manager" \
  --kubeconfig "$HAEIN_STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$HAEIN_STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$HAEIN_STATE/controller-manager.kubeconfig" \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --use-service-account-credentials --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$HAEIN_STATE/kcm-certs" \
  --kube-api-qps 200 --kube-api-burst 400 --v 1
proc_start kube-scheduler "$BIN_DIR/kube-scheduler" \
  --kubeconfig "$HAEIN_STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig "$HAEIN_STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig "$HAEIN_STATE/scheduler.kubeconfig" \
  --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --v 1

log "starting kwok $KWOK_VERSION (simulates nodes annotated kwok.x-k8s.io/node=fake)"
proc_start kwok "$BIN_DIR/kwok" --kubeconfig "$KUBECONFIG_FILE" \
  --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --cidr 10.244.0.0/16 --node-ip "$ip" --server-address "127.0.0.1:$KWOK_PORT"

kc=(env KUBECONFIG="$KUBECONFIG_FILE" "$("$(dirname "$0")/tools.sh")/kubectl")
wait_until 60 "default service account" "${kc[@]}" get serviceaccount default -n default || proc_fail kube-controller-manager
for p in kube-controller-manager kube-scheduler kwok; do proc_running "$p" || proc_fail "$p"; done
log "control plane up in $(( $(date +%s) - t0 ))s"
log "use it with: export KUBECONFIG=$KUBECONFIG_FILE"
