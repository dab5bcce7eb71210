#!/usr/bin/env bash
# Makes sure the sandbox binaries exist: checks the toolchain, fetches the Go modules
# and builds (harness/build.sh). Idempotent; with the binaries cached it only hashes
# a few files and returns at once. Called by scripts/test before the test suite.
# No Debian package is needed: the build uses Go and coreutils only (Debian's own
# golang-go is far older than the 1.26 these modules require).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if out="$("$here/build.sh" --print-dir)" && [ -f "$(dirname "$out")/.complete" ]; then
  echo "harness: cached: $out"
  exit 0
fi

need="1.26"
if ! command -v go >/dev/null; then
  echo "harness: Go >= $need is needed to build the sandbox binaries and 'go' is not on PATH" >&2
  exit 2
fi
have="$(go env GOVERSION | sed 's/^go//')"
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
  echo "harness: Go >= $need is needed to build the sandbox binaries; found $have" >&2
  exit 2
fi

export GOTOOLCHAIN=local
for mod in k8s etcd kwok; do
  echo "harness: downloading Go modules for $mod"
  (cd "$here/$mod" && go mod download)
done
"$here/build.sh"
