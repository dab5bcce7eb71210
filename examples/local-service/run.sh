#!/usr/bin/env bash
# The no-cluster example: start a small local service, run the plan's reality check
# (http, tcp, file, git, command, dns probes) against it, print where the evidence is.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/setup
work="$(mktemp -d -t phasegate-demo.XXXXXX)"
cleanup() { [[ -n "${service_pid:-}" ]] && kill "$service_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# a deploy repository with a remote, committed and pushed, for the git assumption
git init -q --bare "$work/remote.git"
git init -q -b main "$work/repo"
git -C "$work/repo" -c user.name=demo -c user.email=demo@localhost commit -q --allow-empty -m "deploy config"
git -C "$work/repo" remote add origin "$work/remote.git"
git -C "$work/repo" push -q -u origin main

.venv/bin/python examples/local-service/service.py "$work/port" &
service_pid=$!
for _ in $(seq 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(cat "$work/port")"

mkdir -p .phasegate/reports
status=0
.venv/bin/phasegate check examples/local-service/plan.yaml \
  --input @examples/local-service/values.yaml --input "port=$port" --input "repo=$work/repo" \
  --timeout 10s --store .phasegate/local-service.db || status=$?
report=".phasegate/reports/local-service.md"
.venv/bin/phasegate evidence latest --format md -o "$report" --store .phasegate/local-service.db \
  >/dev/null
echo "evidence report: $(pwd)/$report"
exit "$status"
