#!/usr/bin/env bash
# Node mode: runs a real kubelet on Debian's containerd + runc + CNI plugins, registered with the local
# control plane (started first by hack/cluster-up.sh), with the locally built pause/busybox/Haein images
# imported into containerd (no registry) and the Haein node agent serving fake B200 MIG devices to the
# kubelet's device manager. Needs root. Idempotent: a node that is already up is left as it is.
# Settings (env): HAEIN_NODE_NAME, HAEIN_NODE_GPUS, HAEIN_NODE_AGENT=host|none, HAEIN_POD_CIDR, see node-lib.sh.
set -euo pipefail
HACK="$(cd "$(dirname "$0")/.." && pwd)"
source "$HACK/lib.sh"
source "$HACK/proc.sh"
source "$HACK/node/node-lib.sh"
source "$HACK/images/names.sh"

t_start=$(date +%s)

# ---- prerequisites, each with its fix -------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "node mode needs root (containerd, runc, CNI and the kubelet manage namespaces, mounts and cgroups). Run: sudo $0"
"$HACK/node/install-deps.sh"
for cmd in containerd ctr runc iptables ip ss findmnt; do
  need "$cmd" "Run: sudo $HACK/node/install-deps.sh"
done
for plugin in bridge host-local portmap loopback; do
  [ -x "/usr/lib/cni/$plugin" ] || die "CNI plugin /usr/lib/cni/$plugin missing. Run: sudo apt-get install -y containernetworking-plugins"
done

if node_alive kubelet && node_alive containerd; then
  log "node $NODE_NAME already running (containerd $CTR_SOCK, kubelet root $KUBELET_ROOT)"
  if [ "$NODE_AGENT_MODE" = host ] && [ -f "$REPO_ROOT/dist/src/cmd/node-agent.js" ]; then "$HACK/node/agent.sh" start; fi
  exit 0
fi
if [ -d "$NODE_STATE" ] || [ -d "$KUBELET_ROOT" ]; then
  warn "leftovers of an earlier node found: cleaning them with node-down first"
  "$HACK/node/node-down.sh"
fi

grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || \
  die "the overlay filesystem is not available (containerd's overlayfs snapshotter needs it). Run: sudo modprobe overlay"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  for c in cpu memory pids; do
    grep -qw "$c" /sys/fs/cgroup/cgroup.controllers || die "cgroup v2 controller '$c' is not enabled in /sys/fs/cgroup/cgroup.controllers; the kubelet needs cpu, memory and pids."
  done
else
  for c in cpu cpuacct cpuset memory pids devices freezer; do
    [ -d "/sys/fs/cgroup/$c" ] || die "cgroup v1 controller '$c' is not mounted at /sys/fs/cgroup/$c; the kubelet needs it. Mount it (mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c) or boot with cgroups enabled."
  done
  probe="/sys/fs/cgroup/memory/haein-probe-$$"
  mkdir "$probe" 2>/dev/null && rmdir "$probe" || die "cannot create cgroups under /sys/fs/cgroup/memory (read-only or delegated cgroup tree?). Node mode needs a writable cgroup hierarchy: run it on a VM or a privileged host, not an unprivileged container."
fi
for p in "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT"; do
  port_free "$p" || die "port $p is in use by $(port_owner "$p") — the kubelet needs it. Stop that process (another kubelet?) or set HAEIN_KUBELET_PORT / HAEIN_KUBELET_HEALTHZ_PORT."
done
if ip route show | grep -v "dev $CNI_BRIDGE" | grep "^${POD_CIDR%%/*}" >/dev/null; then
  die "pod CIDR $POD_CIDR clashes with an existing route ($(ip route show | grep "^${POD_CIDR%%/*}" | head -1)). Set HAEIN_POD_CIDR to a free /16."
fi
if mountpoint -q "$HOST_DEVICE_PLUGIN_DIR" || ss -xlnH 2>/dev/null | grep -F "$HOST_DEVICE_PLUGIN_DIR/kubelet.sock" >/dev/null; then
  die "$HOST_DEVICE_PLUGIN_DIR is in use (another kubelet, or a node mode with a different HAEIN_STATE). Stop it first (HAEIN_STATE=<its dir> sudo hack/node/node-down.sh), or: sudo umount $HOST_DEVICE_PLUGIN_DIR"
fi
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  die "network interface $CNI_BRIDGE exists but no node is running: remove it with 'sudo ip link del $CNI_BRIDGE' (or run hack/node/node-down.sh)."
fi

# ---- control plane, binaries, images ----------------------------------------------------------------
"$HACK/cluster-up.sh"
"$HACK/build-binaries.sh" kubelet >/dev/null
[ -x "$BIN_DIR/kubelet" ] || die "kubelet binary missing in $BIN_DIR: run hack/build-binaries.sh kubelet"
KUBECTL="$("$HACK/tools.sh")/kubectl"
kc() { "$KUBECTL" --kubeconfig "$HAEIN_STATE/admin.kubeconfig" "$@"; }

images=(pause busybox)
if [ -f "$REPO_ROOT/dist/src/cmd/node-agent.js" ]; then
  images+=(haein)
else
  warn "dist/ not built: the Haein image and the host node agent are skipped (run 'npm run build' first)"
fi
# Build before starting anything, so a build failure leaves no half-started node behind.
"$HACK/images/build.sh" "${images[@]}" >/dev/null

mkdir -p "$NODE_STATE"/{pki,cni/net.d,cni/ipam,runc,pod-logs} "$CTR_DIR" "$KUBELET_ROOT"
: >"$HOST_MARKS"
# Remember the host state we are about to change, so node-down restores it exactly.
echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)" >>"$HOST_MARKS"
for d in /run/containerd /run/containerd/s /var/lib/cni /var/log/containers /var/log/pods /var/lib/kubelet "$HOST_DEVICE_PLUGIN_DIR"; do
  [ -e "$d" ] || echo "created=$d" >>"$HOST_MARKS"
done

# ---- containerd ---------------------------------------------------------------------------------------
# Without CAP_SYS_RESOURCE (some VMs and sandboxes drop it even for root) no process may lower its
# oom_score_adj, and runc fails every pod with "failed to update /proc/self/oom_score_adj: Permission denied".
# containerd can clamp pod scores to its own instead.
restrict_oom=false
cap_eff=$((16#$(awk '/^CapEff/ {print $2}' /proc/self/status)))
if (( (cap_eff >> 24 & 1) == 0 )); then
  restrict_oom=true
  warn "no CAP_SYS_RESOURCE: pod oom_score_adj values below containerd's own are clamped (restrict_oom_score_adj)"
fi
cat >"$CTR_DIR/config.toml" <<TOML
version = 2
root = "$CTR_DIR/root"
state = "$CTR_DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTR_SOCK"

[ttrpc]
  address = "$CTR_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTR_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  # Imported locally (no registry); CRI pulls only when the image is missing.
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUNC_ROOT"
  [plugins."io.containerd.grpc.v1.cri".cni]
    # Debian installs the plugins here, not in /opt/cni/bin.
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
TOML

cat >"$CNI_CONF_DIR/10-$CNI_NETWORK.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_IPAM_DIR",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
JSON

log "starting containerd $(containerd --version | awk '{print $3}') on $CTR_SOCK"
proc_start containerd containerd --config "$CTR_DIR/config.toml" --log-level info
wait_until 30 "containerd socket" ctr --address "$CTR_SOCK" version || proc_fail containerd

# Re-imported on every start: the pause image cannot be pulled if anything ever removed it.
"$HACK/images/import.sh" "${images[@]}"
# (no grep -q in pipelines: with pipefail its early exit fails the producer)
node_ctr images ls -q | grep -x "$PAUSE_IMAGE" >/dev/null || die "pause image $PAUSE_IMAGE not found in containerd after import; images: $(node_ctr images ls -q | tr '\n' ' ')"

# ---- kubelet --------------------------------------------------------------------------------------------
pki="$HAEIN_STATE/pki"
[ -f "$pki/ca.key" ] || die "cluster CA $pki/ca.key missing: the control plane did not write its PKI"
node_ip="$(hostname -I 2>/dev/null | awk '{print $1}')"
[ -n "$node_ip" ] || die "no host IP address found (hostname -I is empty); the node needs one to register"
(
  cd "$NODE_STATE/pki"
  openssl req -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr \
    -subj "/O=system:nodes/CN=system:node:$NODE_NAME" >/dev/null 2>&1
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >kubelet.ext
  openssl x509 -req -in kubelet.csr -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -out kubelet.crt \
    -days 365 -extfile kubelet.ext >/dev/null 2>&1
  rm -f kubelet.csr kubelet.ext
) || die "signing the kubelet client certificate with $pki/ca.key failed"
"$HACK/kubeconfig.sh" "$NODE_STATE/kubelet.kubeconfig" "https://127.0.0.1:$API_PORT" "$pki/ca.crt" \
  "$NODE_STATE/pki/kubelet.crt" "$NODE_STATE/pki/kubelet.key" "system:node:$NODE_NAME"

cat >"$NODE_STATE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: $KUBELET_PORT
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
readOnlyPort: 0
containerRuntimeEndpoint: unix://$CTR_SOCK
# containerd 1.6 has no RuntimeConfig RPC: the kubelet falls back to this, which must match SystemdCgroup=false.
cgroupDriver: cgroupfs
cgroupsPerQOS: true
failSwapOn: false
# The pause image cannot be pulled again (no registry) and containerd 1.6.20 does not pin it: no image GC.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
evictionPressureTransitionPeriod: 10s
makeIPTablesUtilChains: false
podLogsDir: $POD_LOG_DIR
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
maxPods: 110
serializeImagePulls: false
runtimeRequestTimeout: 2m
nodeStatusReportFrequency: 10s
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
fileCheckFrequency: 10s
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $pki/ca.crt
authorization:
  mode: Webhook
YAML

# Device plugins register at the kubelet's compiled-in path; keep their sockets in our state instead.
mkdir -p "$DEVICE_PLUGIN_DIR" "$HOST_DEVICE_PLUGIN_DIR"
mount --bind "$DEVICE_PLUGIN_DIR" "$HOST_DEVICE_PLUGIN_DIR" || die "cannot bind-mount $DEVICE_PLUGIN_DIR on $HOST_DEVICE_PLUGIN_DIR"
echo "mount=$HOST_DEVICE_PLUGIN_DIR" >>"$HOST_MARKS"

labels="nvidia.com/gpu.product=$NODE_PRODUCT,nvidia.com/gpu.count=$NODE_GPUS,nvidia.com/mig.capable=true"
labels+=",nvidia.com/gpu.present=true,nvidia.com/mig.strategy=mixed,nvidia.com/gpu.clique=$NODE_CLIQUE,haein.dev/node-mode=real"
log "starting kubelet $K8S_VERSION as node $NODE_NAME ($node_ip), root $KUBELET_ROOT"
t_kubelet=$(date +%s)
proc_start kubelet "$BIN_DIR/kubelet" \
  --config "$NODE_STATE/kubelet.yaml" \
  --kubeconfig "$NODE_STATE/kubelet.kubeconfig" \
  --root-dir "$KUBELET_ROOT" --cert-dir "$KUBELET_ROOT/pki" \
  --hostname-override "$NODE_NAME" --node-ip "$node_ip" \
  --node-labels "$labels" --v 2

# diagnose: what to look at when the node does not come up.
diagnose() {
  echo "----- kubelet errors ($HAEIN_STATE/logs/kubelet.log) -----" >&2
  grep -E '^E[0-9]{4}|error|failed' "$HAEIN_STATE/logs/kubelet.log" 2>/dev/null | tail -n 15 >&2 || true
  echo "----- containerd errors ($HAEIN_STATE/logs/containerd.log) -----" >&2
  grep -E 'level=(error|fatal)' "$HAEIN_STATE/logs/containerd.log" 2>/dev/null | tail -n 10 >&2 || true
  echo "----- node conditions -----" >&2
  kc get node "$NODE_NAME" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2 2>/dev/null || true
}
node_registered() { kc get node "$NODE_NAME" -o name; }
node_ready() { [ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
if ! wait_until 90 "node $NODE_NAME to register" node_registered; then
  node_alive kubelet || { diagnose; proc_fail kubelet; }
  diagnose; die "kubelet is running but node $NODE_NAME did not register with the API server in 90s"
fi
t_registered=$(date +%s)
if ! wait_until 120 "node $NODE_NAME to become Ready" node_ready; then
  diagnose; die "node $NODE_NAME registered but is not Ready after 120s (logs: $HAEIN_STATE/logs/{kubelet,containerd}.log)"
fi
t_ready=$(date +%s)
log "node $NODE_NAME registered in $((t_registered - t_kubelet))s, Ready in $((t_ready - t_kubelet))s after kubelet start"

# ---- node agent ------------------------------------------------------------------------------------------
cat >"$NODE_ENV_FILE" <<ENV
HAEIN_NODE_NAME=$NODE_NAME
HAEIN_NODE_IP=$node_ip
HAEIN_NODE_GPUS=$NODE_GPUS
HAEIN_NODE_MODEL=$NODE_MODEL
HAEIN_NODE_AGENT=$NODE_AGENT_MODE
HAEIN_DEVICE_PLUGIN_DIR=$DEVICE_PLUGIN_DIR
HAEIN_POD_RESOURCES_SOCKET=$POD_RESOURCES_SOCKET
HAEIN_CONTAINERD_SOCKET=$CTR_SOCK
HAEIN_POD_LOG_DIR=$POD_LOG_DIR
HAEIN_KUBELET_ROOT=$KUBELET_ROOT
HAEIN_NODE_STATE=$NODE_STATE
HAEIN_API_PORT=$API_PORT
HAEIN_PAUSE_IMAGE=$PAUSE_IMAGE
HAEIN_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
HAEIN_IMAGE=$HAEIN_IMAGE
HAEIN_IMAGE_REPO=$HAEIN_IMAGE_REPO
HAEIN_IMAGE_TAG=$HAEIN_IMAGE_TAG
ENV

if [ "$NODE_AGENT_MODE" = host ] && [ -f "$REPO_ROOT/dist/src/cmd/node-agent.js" ]; then
  "$HACK/node/agent.sh" start
elif [ "$NODE_AGENT_MODE" = host ]; then
  warn "node agent not started: dist/src/cmd/node-agent.js missing (run 'npm run build', then hack/node/agent.sh start)"
fi

log "node mode up in $(( $(date +%s) - t_start ))s — node $NODE_NAME, device plugins in $DEVICE_PLUGIN_DIR"
log "facts for scripts and tests: $NODE_ENV_FILE; stop with: sudo hack/node/node-down.sh"
