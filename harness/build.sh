#!/usr/bin/env bash
# Builds the sandbox binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, kwok) into a per-user cache outside the checkout:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/<key>/bin
# <key> names the pinned versions plus a hash of the three go.mod/go.sum
# files, so a fresh clone (CI's) reuses an earlier build and a version bump
# gets a new directory. A complete build leaves a .complete marker; with it in
# place the script prints "cached" and does nothing.
#   build.sh              build if needed, print progress, last line: bin dir
#   build.sh --print-dir  only print the bin dir (nothing is built)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=harness/versions.env
. "$here/versions.env"

# The HELM_ lines are left out: helm.sh keys on them, and a helm bump must not rebuild this.
hash="$(cd "$here" && { grep -v '^HELM_' versions.env
  cat k8s/go.mod k8s/go.sum etcd/go.mod etcd/go.sum kwok/go.mod kwok/go.sum; } | sha256sum | cut -c1-12)"
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_${hash}"
root="${XDG_CACHE_HOME:-$HOME/.cache}/phasegate/harness/$key"
bin="$root/bin"

if [ "${1:-}" = "--print-dir" ]; then echo "$bin"; exit 0; fi
if [ -f "$root/.complete" ]; then echo "cached: $bin"; exit 0; fi
# shellcheck source=harness/lock.sh
. "$here/lock.sh"; build_lock "$root"
if [ -f "$root/.complete" ]; then echo "cached: $bin"; exit 0; fi  # built while we waited

command -v go >/dev/null || { echo "build.sh: Go is not installed (need Go >= 1.26)" >&2; exit 2; }
# Never let the go command try to fetch another toolchain: only the module
# proxy is reachable on our machines.
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly"
mkdir -p "$bin"
log() { printf '[harness %(%H:%M:%S)T] %s\n' -1 "$*"; }
start=$SECONDS

# Version stamps the way Kubernetes' hack/lib/version.sh sets them, so
# `kube-apiserver --version` and /version report the real release.
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
build_date="$(go list -m -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"Time": "\(.*\)",$/\1/p')"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${build_date}"
done

k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler)
missing=0
for b in "${k8s_bins[@]}"; do [ -x "$bin/$b" ] || missing=1; done
if [ "$missing" = 1 ]; then
  log "building Kubernetes ${K8S_VERSION} control plane (cold: ~6 min on 2 cores)"
  tmp="$(mktemp -d "$root/tmp.XXXXXX")"
  (cd "$here/k8s" && go build -ldflags "$ldflags" -o "$tmp/" \
    "${k8s_bins[@]/#/k8s.io/kubernetes/cmd/}")
  mv "$tmp"/* "$bin/" && rmdir "$tmp"
  log "Kubernetes done"
fi
if [ ! -x "$bin/etcd" ]; then
  log "building etcd ${ETCD_VERSION}"
  (cd "$here/etcd" && go build -ldflags "-s -w" -o "$bin/etcd.tmp" .)
  mv "$bin/etcd.tmp" "$bin/etcd"
fi
if [ ! -x "$bin/kwok" ]; then
  log "building kwok ${KWOK_VERSION}"
  (cd "$here/kwok" && go build -ldflags "-s -w" -o "$bin/kwok.tmp" sigs.k8s.io/kwok/cmd/kwok)
  mv "$bin/kwok.tmp" "$bin/kwok"
fi
touch "$root/.complete"
log "built in $((SECONDS - start))s"
echo "$bin"
