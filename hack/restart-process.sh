#!/usr/bin/env bash
# Restarts one control-plane process of the local cluster with the command line hack/cluster-up.sh started it
# with (its data directory is kept): hack/restart-process.sh NAME [SIGNAL], e.g. `etcd KILL`. Used by the
# chaos run (bench/chaos.ts); NAME is a pid file under $HAEIN_STATE/pids.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/proc.sh"
[ $# -ge 1 ] || die "usage: $0 NAME [SIGNAL]"
proc_restart "$1" "${2:-KILL}"
