"""The Temporal engine against a real Temporal dev server and the sandbox: the same plan
gives the same evidence on both engines; stage P waits for a person's approval, checked
against the preview's hash, across a restart of the server; a rejection and a
cancellation stop the run as the local engine stops; a worker killed mid-gate or mid-apply
is replaced and the run finishes, no passed phase applied twice, no observation lost or
doubled."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.fixtures.temporal import TemporalServer, TemporalWorker
from tests.integration.admission_webhook import LABEL, held_webhook
from tests.integration.cli_helpers import PHASEGATE, phasegate
from tests.integration.temporal_helpers import UNTRACED, comparable, line_from, write_plan
from tests.integration.workflow_helpers import args

pytestmark = pytest.mark.cluster


def test_a_run_on_temporal_leaves_the_evidence_a_local_run_leaves(
    cluster: SandboxInfo, tmp_path: Path, temporal_worker: TemporalWorker,
    fresh_namespace: str,
) -> None:
    plan = str(write_plan(tmp_path))
    local = phasegate("run", plan, "--yes", "--json",
                      *args(cluster, tmp_path, fresh_namespace, "--reports",
                            str(tmp_path / "local")))
    assert local.returncode == 0, local.stdout + local.stderr
    other = fresh_namespace + "-t"
    try:
        durable = phasegate("run", plan, "--yes", "--json", "--engine", "temporal", "--wait",
                            *args(cluster, tmp_path, other, "--reports",
                                  str(tmp_path / "temporal")), env=temporal_worker.env())
        assert durable.returncode == 0, durable.stdout + durable.stderr + _log(temporal_worker)
    finally:
        _drop(cluster, other)
    ran_local, ran_durable = json.loads(local.stdout), json.loads(durable.stdout)
    assert ran_durable["status"] == "passed" and ran_durable["run_id"] != ran_local["run_id"]
    assert [p["status"] for p in ran_durable["phases"]] == ["passed", "passed"]
    assert set(ran_durable["files"]) == set(ran_local["files"])
    for kind in ("evidence", "retrospective", "deployment_record"):
        expected = Path(ran_local["files"][kind]).read_text()
        got = Path(ran_durable["files"][kind]).read_text()
        assert comparable(got, other) == comparable(expected, fresh_namespace), kind
    assert (_steps(temporal_worker.store, ran_durable["run_id"])
            == _steps(tmp_path / "e.db", ran_local["run_id"]))


def _steps(store: Path, run_id: str) -> list[tuple[str, str, str]]:
    return [(stage, re.sub(r"pg-tracer-[0-9a-f]{6}", "pg-tracer-ID", name), status)
            for stage, name, status in steps(store, run_id)]


def _log(worker: TemporalWorker) -> str:
    return worker.log.read_text(errors="replace")[-4000:]


def _drop(cluster: SandboxInfo, namespace: str) -> None:
    with connect(cluster) as api:
        api.request("DELETE", f"/api/v1/namespaces/{namespace}")


def test_stage_p_waits_for_a_person_and_takes_only_the_previews_hash(
    cluster: SandboxInfo, tmp_path: Path, temporal_server: TemporalServer,
    temporal_worker: TemporalWorker, fresh_namespace: str,
) -> None:
    plan = str(write_plan(tmp_path, UNTRACED))
    env = temporal_worker.env()
    with subprocess.Popen([PHASEGATE, "run", plan, "--engine", "temporal", "--wait",
                           *args(cluster, tmp_path, fresh_namespace)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "COLUMNS": "300", **env}) as following:
        waiting = line_from(following, "waiting for approval")
        found = re.search(r"phasegate approve (\S+) (\w+)", waiting)
        assert found is not None, waiting
        run_id, plan_hash = found.groups()
        shown = phasegate("show", run_id, "--json", "--store", str(temporal_worker.store),
                          env=env)
        assert json.loads(shown.stdout)["live"]["status"] == "awaiting approval", shown.stderr
        wrong = phasegate("approve", run_id, "0123456789abcdef", env=env)
        assert wrong.returncode == 2, wrong.stdout + wrong.stderr
        assert f"its preview hashes to {plan_hash}" in wrong.stderr
        temporal_server.restart()  # on its database file: the waiting run lives on
        right = phasegate("approve", run_id, plan_hash, env=env)
        assert right.returncode == 0, right.stdout + right.stderr
        rest, _ = following.communicate(timeout=120)
    assert following.returncode == 0, rest + _log(temporal_worker)
    assert f"run {run_id} passed" in rest
    decided = [s for s in steps(temporal_worker.store, run_id) if s[0] == "P"]
    assert decided == [("P", "plan and approval", "passed")]
    assert _detail(temporal_worker.store, run_id, "P").startswith("approved by ")


def test_a_rejected_run_stops_at_p_and_the_client_returns_at_once(
    cluster: SandboxInfo, tmp_path: Path, temporal_worker: TemporalWorker,
    fresh_namespace: str,
) -> None:
    plan = str(write_plan(tmp_path, UNTRACED))
    env = temporal_worker.env()
    started = phasegate("run", plan, "--engine", "temporal", "--json",
                        *args(cluster, tmp_path, fresh_namespace), env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    _until(temporal_worker, run_id, lambda live: live.get("status") == "awaiting approval")
    rejected = phasegate("reject", run_id, "--reason", "not during the sale", env=env)
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    record = _until(temporal_worker, run_id, lambda live: not live)
    assert record["run"]["status"] == "refused"
    assert "not during the sale" in record["run"]["summary"]
    assert not any(s[0] in ("I", "V") for s in steps(temporal_worker.store, run_id))


CANCELLED_PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: stuck}
target: {context: phasegate-local, namespace: "${input.namespace}"}
tracers:
  - name: never-ready
    apply: tracer.yaml
    gate: [{k8s.exists: {kind: ConfigMap, name: never-made}}]
    timeout: 5m
"""


def test_cancel_stops_a_waiting_gate_cleans_up_the_tracer_and_records_interrupted(
    cluster: SandboxInfo, tmp_path: Path, temporal_worker: TemporalWorker,
    fresh_namespace: str,
) -> None:
    plan = str(write_plan(tmp_path, CANCELLED_PLAN))
    env = temporal_worker.env()
    with subprocess.Popen([PHASEGATE, "run", plan, "--engine", "temporal", "--wait", "--yes",
                           *args(cluster, tmp_path, fresh_namespace)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "COLUMNS": "300", **env}) as following:
        run_id = line_from(following, "started on Temporal").split()[1]
        line_from(following, "0 · tracer never-ready: applying into")
        _until_step(temporal_worker.store, run_id, "tracer never-ready · gate", "running")
        cancelled = phasegate("cancel", run_id, "--json", env=env)
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        document = json.loads(cancelled.stdout)
        assert document["status"] == "interrupted" and document["schema_version"] == 1
        rest, _ = following.communicate(timeout=60)
    assert following.returncode == 3, rest
    recorded = steps(temporal_worker.store, run_id)
    assert ("0", "tracer never-ready · gate", "interrupted") in recorded
    assert [s[2] for s in recorded if "cleanup" in s[1]] == ["passed"]
    with sqlite3.connect(temporal_worker.store) as db:
        (status, summary), = db.execute("select status, summary from runs where id = ?",
                                        (run_id,))
    assert status == "interrupted" and "resume" in summary


def _until_step(store: Path, run_id: str, name: str, status: str, *,
                observed: bool = False) -> None:
    """Until the run has such a step (``observed``: with an observation recorded)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(store) as db:
            if db.execute("select 1 from steps s where run_id = ? and name = ? and status = ?"
                          + (" and exists (select 1 from observations o where o.step_id = s.id)"
                             if observed else ""), (run_id, name, status)).fetchone():
                return
        time.sleep(0.1)
    raise AssertionError(f"no {status} step {name!r} in run {run_id}")


def steps(store: Path, run_id: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(store) as db:
        return [tuple(row) for row in db.execute(  # type: ignore[misc]
            "select stage, name, status from steps where run_id = ? order by id", (run_id,))]


def _detail(store: Path, run_id: str, stage: str) -> str:
    with sqlite3.connect(store) as db:
        (detail,), = db.execute("select detail from steps where run_id = ? and stage = ?",
                                (run_id, stage))
    return str(detail)


def _until(worker: TemporalWorker, run_id: str,
           holds: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    """``phasegate show RUN --json`` until its live state holds (``{}``: not live)."""
    deadline = time.monotonic() + timeout
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = phasegate("show", run_id, "--json", "--store", str(worker.store),
                           env=worker.env())
        if result.returncode == 0:
            shown = json.loads(result.stdout)
            if holds(shown.get("live") or {}):
                return shown
        time.sleep(0.3)
    raise AssertionError(f"run {run_id}: never so; last {shown}\n{_log(worker)}")


RELEASED_PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: released}
target: {context: phasegate-local, namespace: "${input.namespace}"}
phases:
  - name: namespace
    apply: namespace.yaml
    gate: [{k8s.exists: {kind: ConfigMap, name: release}}]
    timeout: 2m
    rollback: none
"""


def test_kill_9_of_the_worker_mid_gate_and_another_worker_finishes_the_run(
    cluster: SandboxInfo, tmp_path: Path, own_temporal_worker: TemporalWorker,
    fresh_namespace: str,
) -> None:
    worker = own_temporal_worker
    plan = str(write_plan(tmp_path, RELEASED_PLAN))
    started = phasegate("run", plan, "--engine", "temporal", "--yes", "--json",
                        *args(cluster, tmp_path, fresh_namespace), env=worker.env())
    assert started.returncode == 0, started.stdout + started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    gate = "phase 1: namespace · gate"
    _until_step(worker.store, run_id, gate, "running", observed=True)
    worker.kill()
    worker.start()  # another process on the same queue and store
    with connect(cluster) as api:
        api.request("POST", f"/api/v1/namespaces/{fresh_namespace}/configmaps",
                    {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "release"}}).raise_for_status()
    status = _until_finished(worker, run_id)
    assert status == "passed", _log(worker)
    recorded = steps(worker.store, run_id)
    assert [s[2] for s in recorded if s[1] == gate] == ["abandoned", "passed"]
    assert [s for s in recorded if s[1].endswith("· apply")] == [
        ("I", "phase 1: namespace · apply", "passed")]  # never re-applied
    with sqlite3.connect(worker.store) as db:
        per_step = db.execute(
            "select s.status, count(o.id) from steps s join observations o on o.step_id = s.id"
            " where s.run_id = ? and s.name = ? group by s.id order by s.id",
            (run_id, gate)).fetchall()
        twice = db.execute(
            "select step_id, probe, attempt from observations where run_id = ? "
            "group by step_id, probe, name, attempt having count(*) > 1", (run_id,)).fetchall()
    assert [s for s, _ in per_step] == ["abandoned", "passed"]
    assert all(n >= 1 for _, n in per_step), per_step  # the dead attempt's are kept
    assert twice == []


HELD_PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: held}
target: {context: phasegate-local, namespace: "${input.namespace}"}
phases:
  - name: first
    apply: first.yaml
    gate: [{k8s.exists: {kind: ConfigMap, name: one}}]
    rollback: none
  - name: second
    apply: second.yaml
    gate: [{k8s.exists: {kind: ConfigMap, name: held}}]
    timeout: 2m
"""


def test_kill_9_of_the_worker_mid_apply_and_another_worker_finishes_the_run(
    cluster: SandboxInfo, tmp_path: Path, own_temporal_worker: TemporalWorker,
    fresh_namespace: str,
) -> None:
    worker = own_temporal_worker
    (tmp_path / "plan.yaml").write_text(HELD_PLAN)
    (tmp_path / "first.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: \"${input.namespace}\"}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {k: v}\n")
    (tmp_path / "second.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: held, labels: {{{LABEL}: 'true'}}}}"
        "\ndata: {k: v}\n")
    with held_webhook(cluster, fresh_namespace, tmp_path) as webhook:
        started = phasegate("run", str(tmp_path / "plan.yaml"), "--engine", "temporal", "--yes",
                            "--json", *args(cluster, tmp_path, fresh_namespace), env=worker.env())
        assert started.returncode == 0, started.stdout + started.stderr
        run_id = json.loads(started.stdout)["run_id"]
        # phase 2's apply is inside the API server, waiting on the webhook: kill it there
        assert webhook.arrived.wait(90), (webhook.requests, _log(worker))
        worker.kill()
        webhook.released.set()  # the dead worker's apply lands, as it may on a real cluster
        worker.start()
        status = _until_finished(worker, run_id)
    assert status == "passed", _log(worker)
    recorded = steps(worker.store, run_id)
    applies = [(s[1], s[2]) for s in recorded if s[1].endswith("· apply")]
    assert applies == [("phase 1: first · apply", "passed"),  # never re-applied
                       ("phase 2: second · apply", "abandoned"),
                       ("phase 2: second · apply", "passed")], recorded
    assert webhook.admitted("held") == 2, webhook.requests  # the killed apply and its retry
    with connect(cluster) as api:
        base = f"/api/v1/namespaces/{fresh_namespace}/configmaps"
        assert api.get(f"{base}/one") is not None and api.get(f"{base}/held") is not None
    with sqlite3.connect(worker.store) as db:
        twice = db.execute(
            "select step_id, probe, attempt from observations where run_id = ? "
            "group by step_id, probe, name, attempt having count(*) > 1", (run_id,)).fetchall()
    assert twice == []


def _until_finished(worker: TemporalWorker, run_id: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(worker.store) as db:
            (status,), = db.execute("select status from runs where id = ?", (run_id,))
        if status != "running":
            return str(status)
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still running\n{_log(worker)}")
