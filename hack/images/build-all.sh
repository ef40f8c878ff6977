#!/usr/bin/env bash
# Builds every local image (pause, busybox, Haein) into $HAEIN_CACHE/images — the Makefile's `images` target.
# Usage: hack/images/build-all.sh                         prints one tar path per image
#        hack/images/build-all.sh --print-haein-archive   prints only the Haein tar (for `kind load image-archive`)
set -euo pipefail
here="$(dirname "$0")"
case "${1:-}" in
  "") "$here/build.sh" pause busybox haein ;;
  --print-haein-archive) "$here/build.sh" haein ;;
  *) echo "usage: $0 [--print-haein-archive]" >&2; exit 2 ;;
esac
