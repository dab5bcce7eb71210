"""The store queries reports use, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from phasegate.observation import Observation
from phasegate.store.evidence import EvidenceStore


def seen(name: str, passed: bool, observed: str, attempt: int = 1) -> Observation:
    now = datetime.now(UTC)
    return Observation("tls", name, {}, passed, "SAN covers 127.0.0.1", observed, "", now, now,
                       attempt)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EvidenceStore:
    if request.param == "sqlite":
        return EvidenceStore(str(tmp_path / "e.db"))
    return EvidenceStore(request.getfixturevalue("postgres_url"))


def test_find_runs_by_command_subject_and_window(store: EvidenceStore) -> None:
    subject = f"T-{uuid.uuid4().hex[:6]}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    first = store.start_run("tasks verify", plan_name=subject)
    store.finish_run(first, "failed")
    second = store.start_run("tasks attest", plan_name=subject)
    other = store.start_run("check", plan_name="registry-smoke")
    after = datetime.now(UTC) + timedelta(seconds=1)
    found = store.find_runs(commands=("tasks verify", "tasks attest"), plan_name=subject)
    assert [r.id for r in found] == [second, first]  # newest first
    assert [r.id for r in store.find_runs(plan_name=subject, oldest_first=True)] == [first,
                                                                                     second]
    window = {r.id for r in store.find_runs(since=before, until=after)}
    assert {first, second, other} <= window
    assert not store.find_runs(plan_name=subject, since=after)
    naive_local = (after + timedelta(hours=1)).astimezone().replace(tzinfo=None)
    assert not store.find_runs(plan_name=subject, since=naive_local)  # naive = local time


def test_failures_are_final_attempts_and_bare_failed_steps(store: EvidenceStore) -> None:
    subject = f"T-{uuid.uuid4().hex[:6]}"
    run = store.start_run("run", plan_name=subject)
    gate = store.start_step(run, "I", "phase 1: web · gate")
    store.record(run, gate, seen("cert", False, "SAN lacks 127.0.0.1"))
    store.record(run, gate, seen("cert", False, "SAN lacks 127.0.0.1", 2))
    store.record(run, gate, seen("retried", False, "connection refused"))
    store.record(run, gate, seen("retried", True, "SAN 127.0.0.1", 2))  # fixed while waiting
    store.finish_step(gate, "failed")
    apply = store.start_step(run, "I", "phase 2: api · apply")
    store.finish_step(apply, "failed", "exceeded quota: count/deployments.apps=2")
    fine = store.start_step(run, "I", "phase 3: db · apply")
    store.finish_step(fine, "passed")
    store.finish_run(run, "failed")
    mine = [f for f in store.failures() if f.run.id == run]
    assert [(f.step, f.observation.name if f.observation else None, f.detail) for f in mine
            ] == [("phase 1: web · gate", "cert", ""),
                  ("phase 2: api · apply", None, "exceeded quota: count/deployments.apps=2")]
    assert mine[0].observation is not None and mine[0].observation.attempt == 2
    assert mine[0].run.plan_name == subject


def probed(probe: str, name: str, params: dict[str, object], passed: bool, observed: str,
           attempt: int = 1, fail_fast: bool = False) -> Observation:
    now = datetime.now(UTC)
    return Observation(probe, name, params, passed, "", observed, "", now, now, attempt,
                       fail_fast=fail_fast)


def test_failures_tell_apart_checks_that_share_a_name(store: EvidenceStore) -> None:
    run = store.start_run("check", plan_name=f"T-{uuid.uuid4().hex[:6]}")
    gate = store.start_step(run, "R", "assumptions")
    store.record(run, gate, probed("file", "values.yaml", {"markers": ["image:"]}, False,
                                   "missing marker 'image:'"))
    store.record(run, gate, probed("file", "values.yaml", {"markers": ["replicas:"]}, True,
                                   "all markers present"))
    store.finish_step(gate, "failed")
    store.finish_run(run, "failed")
    mine = [f for f in store.failures() if f.run.id == run]
    assert [f.observation.observed for f in mine if f.observation] == ["missing marker 'image:'"]


def test_a_check_cut_short_by_another_failing_fast_is_not_a_failure(
        store: EvidenceStore) -> None:
    run = store.start_run("apply", plan_name=f"T-{uuid.uuid4().hex[:6]}")
    gate = store.start_step(run, "I", "phase 1: api · gate")
    store.record(run, gate, probed("k8s.rollout", "Deployment/api", {}, False,
                                   "1 of 3 replicas updated"))
    store.record(run, gate, probed("image", "api:1.4.2", {}, False, "tag not found",
                                   fail_fast=True))
    store.finish_step(gate, "failed")
    store.finish_run(run, "failed")
    mine = [f for f in store.failures() if f.run.id == run]
    assert [f.observation.observed for f in mine if f.observation] == ["tag not found"]


def test_find_runs_by_status_with_offset_and_the_choices_to_filter_by(
        store: EvidenceStore) -> None:
    subject = f"T-{uuid.uuid4().hex[:6]}"
    ids = []
    for status in ("passed", "failed", "passed"):
        run = store.start_run("run", plan_name=subject)
        store.finish_run(run, status)
        ids.append(run)
    found = store.find_runs(plan_name=subject, statuses=("passed",))
    assert [r.id for r in found] == [ids[2], ids[0]]
    assert [r.id for r in store.find_runs(plan_name=subject, limit=1, offset=1)] == [ids[1]]
    choices = store.run_choices()
    assert subject in choices["plans"] and "run" in choices["commands"]
    assert {"passed", "failed"} <= set(choices["statuses"])


def test_a_reader_never_holds_the_write_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "e.db")
    writer = EvidenceStore(path)
    reader = EvidenceStore(path, reader=True)
    with reader.engine.connect() as connection:  # a page being rendered, mid-read
        connection.exec_driver_sql("SELECT count(*) FROM runs").all()
        started = datetime.now(UTC)
        run = writer.start_run("check", plan_name="while-read")  # must not wait 60 s
        assert datetime.now(UTC) - started < timedelta(seconds=5)
    assert [r.id for r in reader.find_runs(plan_name="while-read")] == [run]
