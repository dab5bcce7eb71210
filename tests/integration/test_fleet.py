"""A fleet over three real sandboxes on a real Temporal dev server and worker: the canary
wave runs first, one target fails its gate, max_failures=1 stops the waves after it, the
others pass, and ``fleet status`` shows it all; without --yes each target waits at P for
its own approval, across a restart of the Temporal server; a bad targets file is exit 2 at
file:line."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxError, SandboxInfo, connect, down, up
from tests.fixtures import real_systems
from tests.fixtures.temporal import TemporalServer, TemporalWorker
from tests.integration.cli_helpers import phasegate
from tests.integration.temporal_helpers import UNTRACED, write_plan

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def two_more_clusters() -> Iterator[list[SandboxInfo]]:
    """Two sandboxes beside the session's, each with its registry (named like the
    session's, so an orphan of a killed run is stopped by the next)."""
    started: list[SandboxInfo] = []
    try:
        for number in (1, 2):
            try:
                started.append(up(nodes=1, name=f"pytest-{os.getpid()}-fleet{number}",
                                  registry=True))
            except SandboxError as exc:
                real_systems.unavailable(f"a second sandbox did not start: {exc}")
        yield started
    finally:
        for info in started:
            down(info)


def test_a_fleet_runs_in_waves_and_stops_after_its_failure(
    cluster: SandboxInfo, two_more_clusters: list[SandboxInfo], tmp_path: Path,
    temporal_worker: TemporalWorker,
) -> None:
    plan = write_plan(tmp_path, UNTRACED)
    second, third = two_more_clusters
    ns = {name: f"fl-{uuid.uuid4().hex[:8]}" for name in ("canary", "good", "bad", "late")}
    targets = {  # the bad one's images come from a registry that is not there: R fails
        "canary": (cluster, cluster.registry), "good": (second, second.registry),
        "bad": (third, "127.0.0.1:1"), "late": (cluster, cluster.registry)}
    (tmp_path / "targets.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Fleet\ncanary: 1\nmax_parallel: 2\n"
        "max_failures: 1\ntargets:\n" + "".join(
            f"  - name: {name}\n    kubeconfig: {info.kubeconfig}\n"
            f"    context: {info.admin_context}\n"
            f"    inputs: {{namespace: {ns[name]}, registry: '{registry}'}}\n"
            for name, (info, registry) in targets.items()))
    env = temporal_worker.env()
    try:
        ran = phasegate("fleet", "run", str(plan), "--targets", str(tmp_path / "targets.yaml"),
                        "--yes", "--wait", "--json", "--reports", str(tmp_path / "reports"),
                        env=env, timeout=300)
        assert ran.returncode == 1, ran.stdout + ran.stderr + _log(temporal_worker)
        fleet = json.loads(ran.stdout)
        shown = phasegate("fleet", "status", fleet["fleet_id"], "--json", env=env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        table = phasegate("fleet", "status", fleet["fleet_id"], env=env)
    finally:
        for name, (info, _) in targets.items():
            _drop(info, ns[name])
    status = json.loads(shown.stdout)
    rows = {row["target"]: row for row in status["targets"]}
    assert status["status"] == "failed" == fleet["status"]
    assert [rows[n]["wave"] for n in targets] == [1, 2, 2, 3]
    assert {n: rows[n]["status"] for n in targets} == {
        "canary": "passed", "good": "passed", "bad": "failed", "late": "not started"}
    assert rows["bad"]["stages"] == {"R": "failed", "0": "-", "P": "-", "I": "-", "V": "-"}
    assert set(rows["good"]["stages"].values()) == {"passed"}
    assert rows["late"]["started"] is None and "max_failures 1" in status["stopped"]
    assert [rows[n]["run_id"] for n in targets] == [f"{fleet['fleet_id']}-{n}" for n in targets]
    # the store's own record: the canary's run ended before either of wave 2 started; the
    # late target never ran
    runs = _runs(temporal_worker.store, fleet["fleet_id"])
    assert set(runs) == {"canary", "good", "bad"}
    assert runs["canary"][2] <= min(runs["good"][1], runs["bad"][1])
    assert runs["canary"][0] == runs["good"][0] == "passed" and runs["bad"][0] == "failed"
    assert datetime.fromisoformat(rows["canary"]["ended"]) <= datetime.fromisoformat(
        rows["bad"]["started"])
    lines = table.stdout.splitlines()
    late = next(line for line in lines if line.startswith("│ late") or " late " in line)
    assert "not started" in late and "3" in late, table.stdout
    assert any(" bad " in line and "failed" in line for line in lines), table.stdout


def test_without_yes_each_target_waits_at_p_for_its_own_approval(
    cluster: SandboxInfo, two_more_clusters: list[SandboxInfo], tmp_path: Path,
    temporal_server: TemporalServer, temporal_worker: TemporalWorker,
) -> None:
    plan = write_plan(tmp_path, UNTRACED)
    where = {"east": cluster, "west": two_more_clusters[0]}
    ns = {name: f"fl-{uuid.uuid4().hex[:8]}" for name in where}
    (tmp_path / "targets.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Fleet\ntargets:\n" + "".join(
            f"  - name: {name}\n    kubeconfig: {info.kubeconfig}\n"
            f"    inputs: {{namespace: {ns[name]}, registry: '{info.registry}'}}\n"
            for name, info in where.items()))
    env = temporal_worker.env()
    try:
        started = phasegate("fleet", "run", str(plan), "--targets",
                            str(tmp_path / "targets.yaml"), "--json", env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        fleet_id = json.loads(started.stdout)["fleet_id"]
        for name in where:  # one after the other: the second wave waits for the canary
            rows = _until(env, fleet_id, lambda rows, n=name: rows[n]["plan_hash"])
            assert list(rows[name]["stages"].values()) == [
                "passed", "passed", "awaiting approval", "-", "-"]
            if name == "east":
                assert rows["west"]["status"] == "not started"
                # on its database file: the fleet and its waiting child live on
                temporal_server.restart()
            approved = phasegate("approve", rows[name]["run_id"], rows[name]["plan_hash"],
                                 env=env)
            assert approved.returncode == 0, approved.stdout + approved.stderr
        rows = _until(env, fleet_id, lambda rows: all(
            r["status"] == "passed" for r in rows.values()))
    finally:
        for name, info in where.items():
            _drop(info, ns[name])
    assert all(set(r["stages"].values()) == {"passed"} for r in rows.values())


def test_fleet_cancel_stops_the_running_wave_and_starts_no_other(
    cluster: SandboxInfo, two_more_clusters: list[SandboxInfo], tmp_path: Path,
    temporal_worker: TemporalWorker,
) -> None:
    plan = write_plan(tmp_path, UNTRACED)
    where = {"east": cluster, "west": two_more_clusters[1]}
    ns = {name: f"fl-{uuid.uuid4().hex[:8]}" for name in where}
    (tmp_path / "targets.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Fleet\ntargets:\n" + "".join(
            f"  - name: {name}\n    kubeconfig: {info.kubeconfig}\n"
            f"    inputs: {{namespace: {ns[name]}, registry: '{info.registry}'}}\n"
            for name, info in where.items()))
    env = temporal_worker.env()
    try:
        started = phasegate("fleet", "run", str(plan), "--targets",
                            str(tmp_path / "targets.yaml"), "--json", env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        fleet_id = json.loads(started.stdout)["fleet_id"]
        _until(env, fleet_id, lambda rows: rows["east"]["plan_hash"])
        # `phasegate cancel` is for one run: given the fleet's id it names the command that
        # stops a fleet, exit 2, and the fleet goes on
        wrong = phasegate("cancel", fleet_id, env=env)
        assert wrong.returncode == 2, wrong.stdout + wrong.stderr
        assert f"phasegate fleet cancel {fleet_id}" in wrong.stdout + wrong.stderr
        going = phasegate("fleet", "status", fleet_id, "--json", env=env)
        assert json.loads(going.stdout)["status"] == "running", going.stdout
        cancelled = phasegate("fleet", "cancel", fleet_id, "--json", env=env)
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    finally:
        for name, info in where.items():
            _drop(info, ns[name])
    fleet = json.loads(cancelled.stdout)
    rows = {row["target"]: row for row in fleet["targets"]}
    assert fleet["status"] == "interrupted"
    assert (rows["east"]["status"], rows["west"]["status"]) == ("interrupted", "not started")
    assert rows["east"]["stages"]["P"] == "interrupted"
    assert _runs(temporal_worker.store, fleet_id)["east"][0] == "interrupted"


def _until(env: dict[str, str], fleet_id: str,
           wanted: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        shown = phasegate("fleet", "status", fleet_id, "--json", env=env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        rows = {row["target"]: row for row in json.loads(shown.stdout)["targets"]}
        if wanted(rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(1)


def _runs(store: Path, fleet_id: str) -> dict[str, tuple[str, str, str]]:
    with sqlite3.connect(store) as db:
        found = db.execute("select id, status, started_at, finished_at from runs where id "
                           "like ?", (f"{fleet_id}-%",)).fetchall()
    return {run_id.removeprefix(f"{fleet_id}-"): (status, started, finished)
            for run_id, status, started, finished in found}


def _drop(cluster: SandboxInfo, namespace: str) -> None:
    with connect(cluster) as api:
        api.request("DELETE", f"/api/v1/namespaces/{namespace}")


def _log(worker: TemporalWorker) -> str:
    return worker.log.read_text(errors="replace")[-4000:]


def test_a_bad_targets_file_is_exit_2_at_its_line(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, UNTRACED)
    (tmp_path / "targets.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Fleet\nmax_parallel: 1\ntargets:\n"
        "  - name: east\n    kubeconfig: missing.kubeconfig\n")
    ran = phasegate("fleet", "run", str(plan), "--targets", str(tmp_path / "targets.yaml"),
                    "--yes", "--temporal", "127.0.0.1:1")
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert f"{tmp_path / 'targets.yaml'}:6:17: " in ran.stderr
    assert "kubeconfig 'missing.kubeconfig' not found" in ran.stderr
