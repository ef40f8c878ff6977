#!/usr/bin/env bash
# Builds (if inputs changed) and imports local images into the node-mode containerd (k8s.io namespace), so
# pods with imagePullPolicy Never/IfNotPresent find them without a registry. Needs node mode up and root.
# Usage: hack/images/import.sh [pause|busybox|haein ...]   (default: all three)
set -euo pipefail
HACK="$(cd "$(dirname "$0")/.." && pwd)"
source "$HACK/lib.sh"
source "$HACK/node/node-lib.sh"
source "$HACK/images/names.sh"

[ "$(id -u)" -eq 0 ] || die "importing into the node's containerd needs root. Run: sudo $0 $*"
[ -S "$CTR_SOCK" ] || die "node-mode containerd is not running ($CTR_SOCK missing): run sudo hack/node/node-up.sh"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(pause busybox haein)
t0=$(date +%s)
while read -r tar; do
  # Unpacking the Haein image into a snapshot is most of the import time; CRI unpacks an image on first use
  # anyway, so only the sandbox image is unpacked eagerly.
  unpack=(); [ "$(basename "$tar")" = pause.tar ] || unpack=(--no-unpack)
  node_ctr images import "${unpack[@]}" "$tar" >/dev/null || die "ctr images import $tar failed (see $HAEIN_STATE/logs/containerd.log)"
done < <("$HACK/images/build.sh" "${images[@]}")
log "imported ${images[*]} in $(( $(date +%s) - t0 ))s: $(node_ctr images ls -q | grep '^localhost/haein/' | tr '\n' ' ')"
