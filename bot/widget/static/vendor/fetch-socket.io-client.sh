#!/usr/bin/env bash
# Re-fetch the vendored Socket.IO client from the npm registry (run by hand when
# upgrading; nothing fetches it at build or run time). Needs npm and sha512sum.
#
#   bash bot/widget/static/vendor/fetch-socket.io-client.sh [VERSION]
#
# Writes socket.io.min.js and LICENSE.socket.io-client.txt beside this script
# from the package's own tarball (`npm pack` checks the registry's integrity
# hash), then prints the tarball's integrity for README.md.
set -euo pipefail
VERSION="${1:-4.8.4}"
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "socket.io-client@${VERSION}" >/dev/null
tar xzf "socket.io-client-${VERSION}.tgz"
# The official browser build (UMD, minified); its source map comment is dropped
# because the map itself is not vendored.
sed '/^\/\/# sourceMappingURL=/d' package/dist/socket.io.min.js > "$HERE/socket.io.min.js"
cp package/LICENSE "$HERE/LICENSE.socket.io-client.txt"
echo "socket.io-client ${VERSION}"
echo "tarball integrity: $(npm view "socket.io-client@${VERSION}" dist.integrity)"
echo "socket.io.min.js sha256: $(sha256sum "$HERE/socket.io.min.js" | cut -d' ' -f1)"
