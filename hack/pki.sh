#!/usr/bin/env bash
# Generates the local cluster's PKI with openssl: one CA that signs the API server's serving certificate and
# every client certificate, plus the service-account key pair. Idempotent: existing files are kept.
# Usage: hack/pki.sh <pki-dir> <advertise-ip> [NAME:CN:ORG ...]   (extra client certificates, e.g. the chaos
# run's one identity per operator replica; ORG may be empty)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need openssl "Install it: apt-get install -y openssl"

dir="$1"; ip="$2"; shift 2
mkdir -p "$dir"; cd "$dir"

if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=haein-local-ca" >/dev/null 2>&1
fi

# cert NAME CN ORG [SAN]: a key and a CA-signed certificate; ORG may be empty.
cert() {
  local name="$1" cn="$2" org="$3" san="${4:-}" subj ext
  [ -f "$name.crt" ] && return 0
  subj="/CN=$cn"; [ -n "$org" ] && subj="/O=$org$subj"
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" >/dev/null 2>&1
  ext="$name.ext"
  if [ -n "$san" ]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" > "$ext"
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$ext"
  fi
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" -days 3650 \
    -extfile "$ext" >/dev/null 2>&1
  rm -f "$name.csr" "$ext"
}

cert apiserver kube-apiserver "" \
  "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1,IP:$ip"
cert admin kubernetes-admin system:masters
cert controller-manager system:kube-controller-manager ""
cert scheduler system:kube-scheduler ""
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
# The demo runs the operator as a host process under the chart's ServiceAccount name, so the chart's
# least-privilege RBAC (which binds that user name) and admission policy apply to it as in a cluster.
cert operator system:serviceaccount:haein-system:haein-operator ""
[ -f sa.key ] || { openssl genrsa -out sa.key 2048 >/dev/null 2>&1; openssl rsa -in sa.key -pubout -out sa.pub >/dev/null 2>&1; }
for extra in "$@"; do
  IFS=: read -r name cn org <<<"$extra"
  [ -n "$name" ] && [ -n "$cn" ] || die "extra certificate '$extra': expected NAME:CN:ORG"
  cert "$name" "$cn" "$org"
done
