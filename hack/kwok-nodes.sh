#!/usr/bin/env bash
# Creates simulated (KWOK) GPU nodes in the local cluster. KWOK keeps them Ready and runs their pods; a
# Haein node agent in --no-device-plugin mode gives them GPUs (inventory, labels, allocatable).
# Usage: hack/kwok-nodes.sh create COUNT [PREFIX]   |   hack/kwok-nodes.sh delete (all simulated nodes)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
kubectl="$("$(dirname "$0")/tools.sh")/kubectl --kubeconfig $HAEIN_STATE/admin.kubeconfig"

cmd="${1:-}"; prefix="${3:-haein-sim}"
case "$cmd" in
  create)
    count="${2:?usage: $0 create COUNT [PREFIX]}"
    [[ "$count" =~ ^[0-9]+$ ]] || die "COUNT must be a whole number, got '$count'"
    manifest=""
    for i in $(seq 0 $((count - 1))); do
      manifest+="apiVersion: v1
kind: Node
metadata:
  name: $prefix-$i
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: $prefix-$i, kubernetes.io/os: linux, type: kwok, haein.dev/simulated: \"true\"}
status:
  capacity: {cpu: \"224\", memory: 2Ti, pods: \"110\"}
  allocatable: {cpu: \"224\", memory: 2Ti, pods: \"110\"}
---
"
    done
    printf '%s' "$manifest" | $kubectl apply -f - >/dev/null
    log "created $count simulated node(s) $prefix-0..$((count - 1))" ;;
  delete)
    $kubectl delete nodes -l haein.dev/simulated=true --ignore-not-found >/dev/null
    log "deleted simulated nodes" ;;
  *) die "usage: $0 create COUNT [PREFIX] | delete" ;;
esac
