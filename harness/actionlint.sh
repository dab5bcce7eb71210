#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter) from its Go module
# (github.com/rhysd/actionlint, pinned here and by actionlint/go.mod): the tests lint the
# workflows `phasegate ci init --github` writes with it. Kept apart from build.sh like
# helm.sh: its version lives here, not in versions.env, so adding or bumping it changes no
# other tool's cache key. The binary lands in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/actionlint-<key>/actionlint
# where <key> is ACTIONLINT_VERSION plus a hash of this script and actionlint/go.mod, go.sum;
# a .complete marker makes later calls print the path and return at once.
#   actionlint.sh              build if needed; last line: the actionlint path
#   actionlint.sh --print-path only print the path (nothing is built)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ACTIONLINT_VERSION=v1.7.12

hash="$(cd "$here" && cat actionlint.sh actionlint/go.mod actionlint/go.sum \
  | sha256sum | cut -c1-12)"
root="${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/actionlint-${ACTIONLINT_VERSION}_${hash}"
out="$root/actionlint"

if [ "${1:-}" = "--print-path" ]; then echo "$out"; exit 0; fi
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi
# shellcheck source=harness/lock.sh
. "$here/lock.sh"; build_lock "$root"
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi  # built while we waited

command -v go >/dev/null || { echo "actionlint.sh: Go is not installed (need Go >= 1.26)" >&2; exit 2; }
# Same rules as build.sh: never fetch a toolchain, never touch go.mod/go.sum.
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly"
mkdir -p "$root"
printf '[actionlint %(%H:%M:%S)T] building actionlint %s (cold: under a minute)\n' -1 \
  "$ACTIONLINT_VERSION" >&2
(cd "$here/actionlint" && go mod download && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X github.com/rhysd/actionlint.version=${ACTIONLINT_VERSION}" \
  -o "$out.tmp" github.com/rhysd/actionlint/cmd/actionlint)
mv "$out.tmp" "$out"
touch "$root/.complete"
echo "$out"
