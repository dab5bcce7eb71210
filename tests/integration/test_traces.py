"""Runs exported as OpenTelemetry traces to a real OTLP/HTTP receiver: run → stage →
phase → gate → attempt, with parents, status and attributes; off by default; an
unreachable collector is a warning, never a failed run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.otel import spans as run_spans
from phasegate.sandbox import SandboxInfo
from tests.fixtures.otlp import Received
from tests.integration.cli_helpers import phasegate

OK, ERROR = 1, 2  # opentelemetry.proto.trace.v1.Status.StatusCode

PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {{name: traced}}
target: {{context: {context}, namespace: {namespace}}}
assumptions:
  probes:
    - file: {{path: config.yaml, markers: [app]}}
tracers:
  - name: configmap-accepted
    apply: tracer.yaml
    gate: [{{k8s.exists: {{kind: ConfigMap, name: tracer}}}}]
    timeout: 30s
phases:
  - name: config
    apply: config.yaml
    gate: [{{k8s.exists: {{kind: ConfigMap, name: app}}}}]
    timeout: 30s
"""


def configmap(name: str) -> str:
    # no namespace: a tracer's goes to a namespace of its own, a phase's to the target's
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: v}}\n"


def by_id(found: list[Any]) -> dict[bytes, Any]:
    return {span.span_id: span for span in found}


def children(found: list[Any], parent: Any) -> list[Any]:
    return sorted((s for s in found if s.parent_span_id == parent.span_id),
                  key=lambda s: s.start_time_unix_nano)


def attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        values[item.key] = getattr(item.value, kind)
    return values


@pytest.mark.cluster
def test_a_run_is_one_trace_of_stages_phases_gates_and_attempts(
    cluster: SandboxInfo, namespace: str, tmp_path: Path, otlp_receiver: Received
) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN.format(context=cluster.admin_context,
                                                    namespace=namespace))
    (tmp_path / "tracer.yaml").write_text(configmap("tracer"))
    (tmp_path / "config.yaml").write_text(configmap("app"))
    result = phasegate("run", str(tmp_path / "plan.yaml"), "--yes", "--json",
                       "--kubeconfig", str(cluster.kubeconfig), "--store",
                       str(tmp_path / "e.db"), "--reports", str(tmp_path / "reports"),
                       env={"PHASEGATE_OTLP_ENDPOINT": otlp_receiver.url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stderr
    import json

    run_id = json.loads(result.stdout)["run_id"]
    found = otlp_receiver.spans(count=10)
    assert {s.trace_id for s in found} == {run_spans.trace_id(run_id).to_bytes(16, "big")}
    roots = [s for s in found if not s.parent_span_id]
    assert [r.name for r in roots] == ["run traced"]
    root = roots[0]
    assert root.status.code == OK
    assert attributes(root)["phasegate.run.id"] == run_id
    assert attributes(root)["phasegate.run.status"] == "passed"
    stages = children(found, root)
    assert [s.name for s in stages] == ["stage R", "stage 0", "stage P", "stage I", "stage V"]
    assert all(s.status.code == OK for s in stages)
    tracer = children(found, stages[1])
    assert [t.name for t in tracer] == ["tracer configmap-accepted"]
    assert [s.name for s in children(found, tracer[0])] == ["apply", "gate", "cleanup"]
    phase = children(found, stages[3])
    assert [p.name for p in phase] == ["phase 1: config"]
    assert attributes(phase[0])["phasegate.phase.index"] == 1
    steps = children(found, phase[0])
    assert [s.name for s in steps][:2] == ["apply", "gate"]
    gate = steps[1]
    attempts = children(found, gate)
    assert attempts and all(a.name.startswith("ConfigMap") or "app" in a.name
                            for a in attempts), [a.name for a in attempts]
    first = attributes(attempts[0])
    assert first["phasegate.probe"] == "k8s.exists" and first["phasegate.attempt"] == 1
    assert attempts[-1].status.code == OK
    # every span lies within its parent's time
    spans_by_id = by_id(found)
    for span in found:
        if span.parent_span_id:
            parent = spans_by_id[span.parent_span_id]
            assert parent.start_time_unix_nano <= span.start_time_unix_nano
            assert span.end_time_unix_nano <= parent.end_time_unix_nano
    service = {a.key: a.value.string_value for r in otlp_receiver.resources()
               for a in r.attributes}
    assert service["service.name"] == "phasegate"


def test_a_failed_gate_is_an_error_span_up_to_the_run(
    tmp_path: Path, otlp_receiver: Received
) -> None:
    # --otlp before the subcommand: the same as the environment variable
    result = phasegate("--otlp", otlp_receiver.url, "probe",
                       f"{{file: {{path: {tmp_path / 'absent.txt'}}}}}",
                       "--store", str(tmp_path / "e.db"))
    assert result.returncode == 1, result.stdout + result.stderr
    found = otlp_receiver.spans(count=3)
    root = next(s for s in found if not s.parent_span_id)
    assert root.name == "probe" and root.status.code == ERROR
    assert "missing" in root.status.message or root.status.message
    attempt = next(s for s in found if attributes(s).get("phasegate.probe") == "file")
    assert attempt.status.code == ERROR and attributes(attempt)["phasegate.observed"] == (
        "missing")
    parents = by_id(found)
    chain = [attempt.name]
    span = attempt
    while span.parent_span_id:
        span = parents[span.parent_span_id]
        chain.append(span.name)
    assert chain[-1] == "probe" and len(chain) >= 3  # attempt → step → stage → run


def test_an_unreachable_collector_is_a_warning_never_a_failed_run(
    tmp_path: Path, closed_port: int
) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    started = time.monotonic()
    result = phasegate("probe", f"{{file: {{path: {tmp_path / 'a.txt'}}}}}", "--store",
                       str(tmp_path / "e.db"), "--json",
                       env={"PHASEGATE_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port}"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: the trace of run" in result.stderr
    assert f"127.0.0.1:{closed_port}" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert '"passed": true' in result.stdout  # stdout is still the one JSON document
    assert time.monotonic() - started < 15


def test_off_by_default_and_the_core_never_imports_opentelemetry(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    result = phasegate("probe", f"{{file: {{path: {tmp_path / 'a.txt'}}}}}",
                       "--store", str(tmp_path / "e.db"), env={"PHASEGATE_OTLP_ENDPOINT": ""})
    assert result.returncode == 0 and "warning" not in result.stderr
    loaded = subprocess.run(
        [sys.executable, "-c",
         "import sys, phasegate.cli.app, phasegate.workflow.pipeline, phasegate.engine.gate; "
         "print([m for m in sys.modules if m.startswith(('opentelemetry', 'phasegate.otel'))])"],
        capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
