"""Shared by the Temporal engine's tests: a small plan for the sandbox, and the evidence
Markdown with what differs between any two runs (ids, times, namespaces) taken out."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: small}
target: {context: phasegate-local, namespace: "${input.namespace}"}
assumptions:
  apis: [apps/v1/Deployment]
tracers:
  - name: config-accepted
    assumption: the cluster takes a ConfigMap
    apply: tracer.yaml
    gate: [{k8s.exists: {kind: ConfigMap, name: tracer}}]
    timeout: 30s
phases:
  - name: namespace
    apply: namespace.yaml
    gate: [{k8s.exists: {kind: Namespace, name: "${input.namespace}"}}]
    rollback: none
  - name: backend
    apply: backend.yaml
    gate: [{k8s.rollout: {name: backend}}]
    timeout: 1m
validate:
  - k8s.exists: {kind: Deployment, name: backend}
"""

# the same without its tracer (whose scratch namespace takes seconds to go)
UNTRACED = PLAN[:PLAN.index("tracers:")] + PLAN[PLAN.index("phases:"):]

MANIFESTS = {
    "tracer.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tracer}\n"
                   "data: {a: b}\n",
    "namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: \"${input.namespace}\"}\n",
    "backend.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend}
spec:
  replicas: 1
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers: [{name: backend, image: "${input.registry}/shop/backend:1.0"}]
""",
}


def write_plan(directory: Path, plan: str = PLAN) -> Path:
    for name, text in MANIFESTS.items():
        (directory / name).write_text(text)
    path = directory / "plan.yaml"
    path.write_text(plan)
    return path


def comparable(markdown: str, *names: str) -> list[list[str]]:
    """The evidence without run ids, times, durations, attempt counts (how often a gate
    looked depends on timing), UIDs, hashes of the inputs (the namespaces named differ)
    and the namespaces named; the checks of a gate in any order (a report lists them in
    the order their first attempts finished), each section's lines otherwise in order."""
    text = _plain(markdown, *names)
    sections = []
    for section in text.split("\n## "):
        head, *checks = section.split("\n### ")
        rows = [line for line in head.splitlines() if line.startswith("| `")]
        rest = [line for line in head.splitlines() if not line.startswith("| `")]
        sections.append([*rest, *sorted(rows), *sorted(checks)])
    return sections


def _plain(markdown: str, *names: str) -> str:
    text = re.sub(r"\d{8}-\d{6}-[0-9a-f]{6}", "RUN", markdown)
    text = re.sub(r"pg-tracer-[0-9a-f]{6}", "pg-tracer-ID", text)
    for name in names:
        text = text.replace(name, "NS")
    text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z)?", "TIME", text)
    text = re.sub(r"\d+(\.\d+)? ?(s|ms)\b", "N s", text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UID", text)
    text = re.sub(r"\((\d+) attempts\)", "(N attempts)", text)
    text = re.sub(r"N s, \d+ attempts?\)", "N s, N attempts)", text)
    # a retrospective's retries and observation counts are how often gates looked, too
    text = re.sub(r"^- .*: \d+ attempts over .*\n", "", text, flags=re.M)
    text = re.sub(r"observations: \d+ \(\d+ were", "observations: N (N were", text)
    text = re.sub(r"\| (\d+) \|$", "| N |", text, flags=re.M)
    text = re.sub(r"attempt \d+", "attempt N", text)
    text = re.sub(r"\b([0-9a-f]{16}|[0-9a-f]{64})\b", "HASH", text)
    return re.sub(r'"resourceVersion": "\d+"', '"resourceVersion": "N"', text)


def line_from(process: subprocess.Popen[str], wanted: str, timeout: float = 60) -> str:
    """Read ``process``'s stdout until a line holding ``wanted`` comes; that line."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if wanted in line:
            return line
    raise AssertionError(f"no line with {wanted!r} in: {''.join(seen)}")
