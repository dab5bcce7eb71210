#!/usr/bin/env bash
# Builds the helm CLI from the Helm Go module (helm.sh/helm/v3, pinned as HELM_VERSION in
# versions.env and by helm/go.mod) for helm phases, their tests and bench/helm_wait.py.
# Kept apart from build.sh on purpose, like kubectl.sh: a change here must not rebuild
# the control plane (build.sh and kubectl.sh leave the HELM_ lines of versions.env out
# of their keys). The binary lands in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/helm-<key>/helm
# where <key> is HELM_VERSION plus a hash of the HELM_ lines and helm/go.mod, go.sum;
# a .complete marker makes later calls print the path and return at once.
#   helm.sh              build if needed; last line: the helm path
#   helm.sh --print-path only print the path (nothing is built)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=harness/versions.env
. "$here/versions.env"

hash="$( (cd "$here" && grep '^HELM_' versions.env; cat helm/go.mod helm/go.sum) \
  | sha256sum | cut -c1-12)"
root="${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/helm-${HELM_VERSION}_${hash}"
out="$root/helm"

if [ "${1:-}" = "--print-path" ]; then echo "$out"; exit 0; fi
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi
# shellcheck source=harness/lock.sh
. "$here/lock.sh"; build_lock "$root"
if [ -f "$root/.complete" ]; then echo "$out"; exit 0; fi  # built while we waited

command -v go >/dev/null || { echo "helm.sh: Go is not installed (need Go >= 1.26)" >&2; exit 2; }
# Same rules as build.sh: never fetch a toolchain, never touch go.mod/go.sum.
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly"
mkdir -p "$root"
# The version stamps Helm's own Makefile sets, so `helm version` names the release and
# charts see the Kubernetes minor helm's client modules speak.
kminor="$(cd "$here/helm" && go list -m -f '{{.Version}}' k8s.io/client-go)"
kminor="${kminor#v0.}"; kminor="${kminor%%.*}"
v=helm.sh/helm/v3
ldflags="-s -w -X $v/internal/version.version=${HELM_VERSION}"
ldflags+=" -X $v/internal/version.gitTreeState=clean"
ldflags+=" -X $v/pkg/lint/rules.k8sVersionMajor=1 -X $v/pkg/lint/rules.k8sVersionMinor=${kminor}"
ldflags+=" -X $v/pkg/chartutil.k8sVersionMajor=1 -X $v/pkg/chartutil.k8sVersionMinor=${kminor}"
printf '[helm %(%H:%M:%S)T] building helm %s (cold: a few minutes on 2 cores)\n' -1 "$HELM_VERSION" >&2
(cd "$here/helm" && go mod download && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" \
  -o "$out.tmp" helm.sh/helm/v3/cmd/helm)
mv "$out.tmp" "$out"
touch "$root/.complete"
echo "$out"
