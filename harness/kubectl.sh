#!/usr/bin/env bash
# Builds upstream kubectl: the tests render kustomize overlays with it
# (PHASEGATE_KUBECTL, set by tests/fixtures/kubectl.py; scripts/test builds it)
# and bench/apply_many.py compares phasegate against `kubectl apply
# --server-side`. Kept apart from build.sh on purpose: a change here must not
# rebuild the control plane. The binary lands in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/kubectl-<key>/kubectl
# where <key> is K8S_VERSION plus a hash of kubectl/go.mod, go.sum, main.go;
# a .complete marker makes later calls print the path and return at once.
#   kubectl.sh              build if needed; last line: the kubectl path
#   kubectl.sh --print-path only print the path (nothing is built)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=harness/versions.env
. "$here/versions.env"

hash="$(cd "$here" && { grep -v '^HELM_' versions.env
  cat kubectl/go.mod kubectl/go.sum kubectl/main.go; } | sha256sum | cut -c1-12)"
root="${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/kubectl-${K8S_VERSION}_${hash}"
out="$root/kubectl"

if [ "${1:-}" = "--print-path" ]; then echo "$out"; exit 0; fi
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi
# shellcheck source=harness/lock.sh
. "$here/lock.sh"; build_lock "$root"
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi  # built while we waited

command -v go >/dev/null || { echo "kubectl.sh: Go is not installed (need Go >= 1.26)" >&2; exit 2; }
# Same rules as build.sh: never fetch a toolchain, never touch go.mod/go.sum.
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly"
mkdir -p "$root"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
  ldflags+=" -X $pkg.gitTreeState=clean"
done
printf '[kubectl %(%H:%M:%S)T] building kubectl %s (cold: a few minutes on 2 cores)\n' -1 "$K8S_VERSION" >&2
(cd "$here/kubectl" && go build -ldflags "$ldflags" -o "$out.tmp" .)
mv "$out.tmp" "$out"
touch "$root/.complete"
echo "$out"
