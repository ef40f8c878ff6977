#!/usr/bin/env bash
# Writes a kubeconfig with embedded client certificate for the local cluster.
# Usage: hack/kubeconfig.sh <out> <server-url> <ca.crt> <client.crt> <client.key> <user>
set -euo pipefail
out="$1" server="$2" ca="$3" crt="$4" key="$5" user="$6"
b64() { base64 -w0 < "$1"; }
cat > "$out" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: haein-local
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$ca")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$crt")
    client-key-data: $(b64 "$key")
contexts:
- name: haein-local
  context:
    cluster: haein-local
    user: $user
current-context: haein-local
YAML
chmod 600 "$out"
