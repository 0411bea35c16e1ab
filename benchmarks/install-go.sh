#!/usr/bin/env bash
# Install Go (Debian's golang-go from bookworm-backports, Go 1.2x) for the peer benchmarks.
# Must run as root. Idempotent.
set -euo pipefail
SRC=/etc/apt/sources.list.d/debian.sources
DST=/etc/apt/sources.list.d/bookworm-backports.sources
if [ "$(id -u)" != 0 ]; then echo "install-go.sh: run as root" >&2; exit 1; fi
if [ ! -f "$DST" ]; then
  # Copy the mirror URI and keyring of the first (non-security) stanza of debian.sources.
  uri=$(awk '/^URIs:/{print $2; exit}' "$SRC")
  key=$(awk '/^Signed-By:/{print $2; exit}' "$SRC")
  : "${uri:?no URIs: line in $SRC}"
  cat > "$DST" <<EOT
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}
EOT
  echo "wrote $DST (URIs: $uri)"
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y -t bookworm-backports golang-go
go version
