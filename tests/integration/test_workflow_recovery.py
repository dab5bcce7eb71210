"""Recovery that tells the truth: resume after a changed manifest, after kill -9 during a
tracer's cleanup, and the records left by signals, crashes and failed cleanups. Every run
is the real ``phasegate`` executable against the sandbox; signals are real signals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import PHASEGATE, phasegate
from tests.integration.workflow_helpers import args, steps

pytestmark = pytest.mark.cluster
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOLD = "phasegate.test/hold"


def _start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([PHASEGATE, *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})


def _query(store: Path, sql: str, *params: str) -> tuple[str, ...] | None:
    try:
        with sqlite3.connect(store) as db:
            row = db.execute(sql, params).fetchone()
    except sqlite3.OperationalError:  # not created yet, or locked for a moment
        return None
    return tuple(row) if row else None


def _when(condition: Callable[[], object], timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.005)
    raise AssertionError("the awaited moment never came")


def _tracer_plan(tmp_path: Path, cluster: SandboxInfo, manifest: dict[str, object],
                 gate: str) -> Path:
    (tmp_path / "tracer.yaml").write_text(json.dumps(manifest))
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: recovery}\n"
                    "target: {context: phasegate-local, namespace: default}\n"
                    "tracers:\n  - name: probe-it\n    apply: tracer.yaml\n"
                    f"    gate: [{gate}]\n    timeout: 1m\n")
    return plan


def _store_args(cluster: SandboxInfo, tmp_path: Path) -> list[str]:
    return ["--kubeconfig", str(cluster.kubeconfig), "--store", str(tmp_path / "e.db"),
            "--reports", str(tmp_path / "r")]


# --- kill -9 and resume ----------------------------------------------------------------

def test_kill_9_during_tracer_cleanup_then_resume_passes_first_time(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    go = tmp_path / "go"  # the tracer's gate passes once this exists
    plan = _tracer_plan(tmp_path, cluster, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tracer"},
        "data": {"k": "v"}}, f"{{command: {{run: [test, -e, {go}]}}}}")
    store = tmp_path / "e.db"
    process = _start(["tracer", str(plan), *_store_args(cluster, tmp_path)])
    _when(lambda: _query(store, "select id from steps where name = 'tracer probe-it · apply' "
                                "and status = 'passed'"))
    run_id = str(_query(store, "select id from runs")[0])  # type: ignore[index]
    namespace = f"pg-tracer-{run_id[-6:]}-probe-it"
    with connect(cluster) as api:  # another client's object keeps the namespace a while
        api.create(f"/api/v1/namespaces/{namespace}/configmaps",
                   {"metadata": {"name": "holder", "finalizers": [HOLD]}})
        go.write_text("")
        _when(lambda: _query(store, "select id from steps where name like 'tracer cleanup%' "
                                    "and status = 'running'"))
        _when(lambda: (api.get(f"/api/v1/namespaces/{namespace}") or {}).get(
            "status", {}).get("phase") == "Terminating", timeout=30)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()

    def release() -> None:  # the holder's owner lets go once the resumed run waits on it
        _when(lambda: _query(store, "select count(*) from steps where name = "
                                    "'tracer probe-it · apply' having count(*) > 1"),
              timeout=120)
        time.sleep(1)
        with connect(cluster) as api:
            api.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/holder",
                        {"metadata": {"finalizers": None}},
                        content_type="application/merge-patch+json")

    releasing = threading.Thread(target=release)
    releasing.start()
    try:
        resumed = phasegate("resume", run_id, "--json", "--store", str(store))
    finally:
        releasing.join()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    recorded = steps(tmp_path, run_id)
    assert not [s for s in recorded if s[2] == "running"], recorded
    assert ("0", f"tracer cleanup {namespace}", "abandoned") in recorded  # the cut-short one
    assert recorded[-1] == ("0", f"tracer cleanup {namespace}", "passed")
    with sqlite3.connect(store) as db:  # re-applied only once the old namespace was gone
        applies = db.execute("select status, detail from steps where "
                             "name = 'tracer probe-it · apply' order by id").fetchall()
    assert len(applies) == 2 and applies[1][0] == "passed"
    assert "waiting" in applies[1][1] and f"terminating {namespace}" in applies[1][1]
    retrospective = Path(json.loads(resumed.stdout)["files"]["retrospective"]).read_text()
    failures = retrospective.split("### Failures")[1].split("### Retries")[0]
    assert "probe-it" not in failures, failures


def test_kill_9_then_resume_closes_the_step_cut_short(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    plan = str(EXAMPLES / "quota-rollback" / "plan.yaml")
    store = tmp_path / "e.db"
    process = _start(["apply", plan, "--yes", "--input", "max_deployments=5",
                      *args(cluster, tmp_path, fresh_namespace)])
    row = _when(lambda: _query(store, "select run_id, name from steps where "
                               "name = 'phase 2: backend · gate' and status = 'running'"))
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    run_id = row[0]  # type: ignore[index]
    resumed = phasegate("resume", run_id, "--json", "--store", str(store))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    recorded = steps(tmp_path, run_id)
    assert ("I", "phase 2: backend · gate", "abandoned") in recorded
    assert not [s for s in recorded if s[2] == "running"], recorded
    with sqlite3.connect(store) as db:
        detail = db.execute("select detail from steps where status = 'abandoned'").fetchone()[0]
    assert "cut short" in detail
    # a step the kill cut short is no failure of the change: the retrospective says so
    retrospective = Path(json.loads(resumed.stdout)["files"]["retrospective"]).read_text()
    failures = retrospective.split("### Failures")[1].split("### Retries")[0]
    assert "phase 2: backend" not in failures, failures


# --- signals ---------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_plan_records_the_step_interrupted(
    cluster: SandboxInfo, tmp_path: Path, namespace: str, signum: int
) -> None:
    many = "\n---\n".join(
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                    "data": {"i": str(i)}}) for i in range(80))
    (tmp_path / "many.yaml").write_text(many)
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: slow-plan}\n"
                    f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
                    "phases:\n  - name: many\n    apply: many.yaml\n"
                    "    gate: [{k8s.exists: {kind: ConfigMap, name: c1}}]\n")
    store = tmp_path / "e.db"
    process = _start(["apply", str(plan), "--yes", *_store_args(cluster, tmp_path)])
    _when(lambda: _query(store, "select id from steps where name = 'plan and approval' "
                                "and status = 'running'"))
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, out + err
    assert "Traceback" not in err
    assert _query(store, "select status from steps where name = 'plan and approval'") == (
        "interrupted",)
    assert _query(store, "select status from runs") == ("interrupted",)


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (the kernel's own record)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signum - 1) & 1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3, 0.6])
def test_signal_before_the_run_is_recorded_exits_3(
    cluster: SandboxInfo, tmp_path: Path, namespace: str, signum: int, delay: float
) -> None:
    """From phasegate's first line on (typer loading, the plan read, the target resolved)
    a signal is exit 3 and one line. The clock starts when the process catches SIGTERM:
    the interpreter's own start-up, before any phasegate code runs, is not ours to route."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: early}\n"
                    f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
                    "phases:\n  - name: one\n    apply: cm.yaml\n"
                    "    gate: [{k8s.exists: {kind: ConfigMap, name: one}}]\n")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n")
    process = _start(["run", str(plan), "--yes", *_store_args(cluster, tmp_path)])
    _when(lambda: _catches(process.pid, signal.SIGTERM) or process.poll() is not None,
          timeout=30)
    time.sleep(delay)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, out + err
    assert "Traceback" not in err, err
    recorded = _query(tmp_path / "e.db", "select status from runs")
    assert recorded in (None, ("interrupted",))


# --- tracer records ----------------------------------------------------------------------

def test_tracer_whose_cleanup_fails_is_not_recorded_as_passed(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    plan = _tracer_plan(tmp_path, cluster, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "stuck", "finalizers": [HOLD]}},
        "{k8s.exists: {kind: ConfigMap, name: stuck}}")
    result = phasegate("tracer", str(plan), "--json", *_store_args(cluster, tmp_path),
                       timeout=180)
    document = json.loads(result.stdout)
    run_id = document["run_id"]
    namespace = f"pg-tracer-{run_id[-6:]}-probe-it"
    try:
        assert result.returncode == 1, result.stdout + result.stderr
        cleanup = [s for s in steps(tmp_path, run_id) if "cleanup" in s[1]]
        assert cleanup == [("0", f"tracer cleanup {namespace}", "failed")]
        assert not document["tracers"][0]["passed"]
        assert f"ConfigMap {namespace}/stuck" in document["tracers"][0]["evidence"]
        assert HOLD in document["tracers"][0]["evidence"]
    finally:
        with connect(cluster) as api:
            api.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/stuck",
                        {"metadata": {"finalizers": None}},
                        content_type="application/merge-patch+json")


@pytest.fixture
def namespaces_refused(cluster: SandboxInfo) -> Iterator[None]:
    """A real admission policy refusing new scratch namespaces (pg-tracer-…)."""
    base = "/apis/admissionregistration.k8s.io/v1"
    name = "refuse-tracer-namespaces"
    with connect(cluster) as api:
        api.create(f"{base}/validatingadmissionpolicies", {
            "metadata": {"name": name},
            "spec": {"failurePolicy": "Fail",
                     "matchConstraints": {"resourceRules": [{
                         "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                         "resources": ["namespaces"]}]},
                     "validations": [{"expression":
                                      "!object.metadata.name.startsWith('pg-tracer-')",
                                      "message": "no scratch namespaces here"}]}})
        api.create(f"{base}/validatingadmissionpolicybindings", {
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"]}})

        def refused() -> bool:
            response = api.request("POST", "/api/v1/namespaces",
                                   {"metadata": {"name": "pg-tracer-policy-check"}},
                                   params={"dryRun": "All"})
            return response.status_code == 422 or response.status_code == 403

        _when(refused, timeout=30)
        try:
            yield
        finally:
            api.request("DELETE", f"{base}/validatingadmissionpolicybindings/{name}")
            api.request("DELETE", f"{base}/validatingadmissionpolicies/{name}")
            _when(lambda: not refused(), timeout=30)  # later tests get their namespaces


def test_refused_scratch_namespace_fails_the_tracer_and_closes_its_step(
    cluster: SandboxInfo, tmp_path: Path, namespaces_refused: None
) -> None:
    plan = _tracer_plan(tmp_path, cluster, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tracer"}},
        "{k8s.exists: {kind: ConfigMap, name: tracer}}")
    result = phasegate("tracer", str(plan), "--json", *_store_args(cluster, tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert "no scratch namespaces here" in document["tracers"][0]["evidence"]
    recorded = steps(tmp_path, document["run_id"])
    assert ("0", "tracer probe-it · apply", "failed") in recorded
    assert not [s for s in recorded if s[2] == "running"], recorded
