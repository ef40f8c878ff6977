#!/usr/bin/env bash
# Stops the local control plane started by hack/cluster-up.sh and removes its state directory.
# Node mode (hack/node/node-down.sh) is stopped first when it is running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/proc.sh"

if [ -x "$(dirname "$0")/node/node-down.sh" ] && [ -d "$HAEIN_STATE/node" ]; then
  "$(dirname "$0")/node/node-down.sh" || warn "node-down reported errors"
fi
for p in haein-operator haein-node-agent kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  proc_stop "$p"
done
# Any other process this tree started (extra agents, operators) has a pid file too.
for f in "$HAEIN_STATE"/pids/*.pid; do [ -f "$f" ] && proc_stop "$(basename "$f" .pid)"; done
rm -rf "$HAEIN_STATE"
log "local cluster stopped and $HAEIN_STATE removed"
