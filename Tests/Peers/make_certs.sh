#!/usr/bin/env bash
# Makes test certificates in DIR: a CA (ca.pem), a server certificate it signed for
# localhost and 127.0.0.1 (server.pem, server.key), one it signed for another name only
# (wrongname.pem, wrongname.key), and a self-signed certificate no one trusts
# (untrusted.pem, untrusted.key). Used by the TLS integration tests; never for real use.
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir" && cd "$dir"
q() { openssl "$@" >/dev/null 2>&1; }
q req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=WireTape Test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() { # name san
  q req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" > "$1.ext"
  q x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext"
}
leaf server "DNS:localhost,IP:127.0.0.1"
leaf wrongname "DNS:other.example"
q req -x509 -newkey rsa:2048 -nodes -keyout untrusted.key -out untrusted.pem -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
echo "$dir"
