#!/usr/bin/env bash
# Builds the upstream kubelet for the sandbox's real node (`phasegate sandbox up
# --real-nodes N`) from the same k8s.io/kubernetes version as the control plane.
# Kept apart from build.sh and harness/k8s on purpose: a change here rebuilds only
# the kubelet, never the control plane. The binary lands in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/kubelet-<key>/kubelet
# where <key> is K8S_VERSION plus a hash of kubelet/go.mod, go.sum, tools.go;
# a .complete marker makes later calls print the path and return at once.
#   kubelet.sh              build if needed; last line: the kubelet path
#   kubelet.sh --print-path only print the path (nothing is built)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=harness/versions.env
. "$here/versions.env"

hash="$(cd "$here" && { grep -v '^HELM_' versions.env
  cat kubelet/go.mod kubelet/go.sum kubelet/tools.go; } | sha256sum | cut -c1-12)"
root="${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/kubelet-${K8S_VERSION}_${hash}"
out="$root/kubelet"

if [ "${1:-}" = "--print-path" ]; then echo "$out"; exit 0; fi
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi
# shellcheck source=harness/lock.sh
. "$here/lock.sh"; build_lock "$root"
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi  # built while we waited

command -v go >/dev/null || { echo "kubelet.sh: Go is not installed (need Go >= 1.26)" >&2; exit 2; }
# Same rules as build.sh: never fetch a toolchain, never touch go.mod/go.sum.
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly"
mkdir -p "$root"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
  ldflags+=" -X $pkg.gitTreeState=clean"
done
printf '[kubelet %(%H:%M:%S)T] building kubelet %s (cold: a few minutes on 2 cores)\n' -1 "$K8S_VERSION" >&2
(cd "$here/kubelet" && go mod download && go build -ldflags "$ldflags" -o "$out.tmp" k8s.io/kubernetes/cmd/kubelet)
mv "$out.tmp" "$out"
touch "$root/.complete"
echo "$out"
