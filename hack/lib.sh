#!/usr/bin/env bash
# Shared settings for the hack/ scripts: versions, cache and state directories, logging.
# Sourced, never run.

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"

# Built binaries live outside the repo, keyed by version, so that only the first run on a machine pays.
HAEIN_CACHE="${HAEIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/haein}"
BIN_DIR="${HAEIN_BIN_DIR:-$HAEIN_CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION}"
# Runtime state of a running local cluster (certs, etcd data, logs, pids).
HAEIN_STATE="${HAEIN_STATE:-${TMPDIR:-/tmp}/haein-cluster}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1;34m[haein]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[haein] warning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[haein] error:\033[0m %s\n' "$*" >&2; exit 1; }

# need CMD HINT: fail early, with a fix, when a prerequisite is missing.
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed. $2"; }

# own_control_plane VAR_PREFIX STATE_NAME API ETCD ETCD_PEER KCM SCHEDULER KWOK: the state dir and ports of a
# control plane a script starts for itself (away from hack/cluster-up.sh's), each overridable by
# ${VAR_PREFIX}_STATE, ${VAR_PREFIX}_API_PORT, ... Sets HAEIN_STATE and the HAEIN_*_PORT variables cluster-up.sh reads.
own_control_plane() {
  local p="$1"; local v
  v="${p}_STATE"; export HAEIN_STATE="${!v:-${TMPDIR:-/tmp}/$2}"
  v="${p}_API_PORT"; export HAEIN_API_PORT="${!v:-$3}"
  v="${p}_ETCD_PORT"; export HAEIN_ETCD_PORT="${!v:-$4}"
  v="${p}_ETCD_PEER_PORT"; export HAEIN_ETCD_PEER_PORT="${!v:-$5}"
  v="${p}_KCM_PORT"; export HAEIN_KCM_PORT="${!v:-$6}"
  v="${p}_SCHEDULER_PORT"; export HAEIN_SCHEDULER_PORT="${!v:-$7}"
  v="${p}_KWOK_PORT"; export HAEIN_KWOK_PORT="${!v:-$8}"
}
