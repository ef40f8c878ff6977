#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, etcd and kwok from the Go
# module proxy into a versioned cache directory outside the repo. Binaries already there are kept,
# so a warm run returns at once. Usage: hack/build-binaries.sh [binary ...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need go "Install Go >= 1.24 (Debian: the golang-go package is too old; use the machine's Go toolchain)."
mkdir -p "$BIN_DIR"
# Two runs at once (e.g. two cluster-up.sh) must not build into the same temporary files: the second waits.
exec 9>"$BIN_DIR/.build.lock"
flock 9

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
commit="0000000000000000000000000000000000000000"
date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X '$pkg.gitVersion=$K8S_VERSION' -X '$pkg.gitMajor=1' -X '$pkg.gitMinor=$minor'"
  ldflags+=" -X '$pkg.gitCommit=$commit' -X '$pkg.gitTreeState=clean' -X '$pkg.buildDate=$date'"
done

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kwok)

cd "$REPO_ROOT/hack/k8s-build"
total=${#targets[@]}; n=0
for t in "${targets[@]}"; do
  n=$((n + 1))
  out="$BIN_DIR/$t"
  if [ -x "$out" ]; then continue; fi
  start=$(date +%s)
  log "building $t ($n/$total) into $BIN_DIR — the first build on a machine takes several minutes per binary"
  case "$t" in
    etcd) CGO_ENABLED=0 go build -trimpath -o "$out.tmp" go.etcd.io/etcd/server/v3 ;;
    kubelet) go build -trimpath -ldflags "$ldflags" -o "$out.tmp" k8s.io/kubernetes/cmd/kubelet ;;
    kwok) GOBIN="$BIN_DIR/.kwok" CGO_ENABLED=0 go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" && mv "$BIN_DIR/.kwok/kwok" "$out.tmp" ;;
    kube-*) CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "k8s.io/kubernetes/cmd/$t" ;;
    *) die "unknown binary '$t'" ;;
  esac
  mv "$out.tmp" "$out"
  log "built $t in $(( $(date +%s) - start ))s"
done
echo "$BIN_DIR"
