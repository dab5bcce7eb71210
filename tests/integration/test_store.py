"""The evidence store: records round-trip, migrations apply, concurrent writers never corrupt it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from phasegate.errors import StoreError
from phasegate.observation import Observation
from phasegate.store import tables
from phasegate.store.evidence import EvidenceStore

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from phasegate.observation import Observation
    from phasegate.store.evidence import EvidenceStore

    store = EvidenceStore(sys.argv[1])
    worker = sys.argv[2]
    for n in range(int(sys.argv[3])):
        run = store.start_run("probe", plan_name=f"w{worker}")
        step = store.start_step(run, "R", f"step {n}")
        now = datetime.now(UTC)
        for attempt in range(1, 4):
            store.record(run, step, Observation("tcp", f"w{worker}-{n}", {"n": n}, attempt == 3,
                                                "x", "y", "z" * 200, now, now, attempt))
        store.finish_step(step, "passed")
        store.finish_run(run, "passed", "ok")
    """
)


def test_run_round_trip(tmp_path: Path) -> None:
    store = EvidenceStore(str(tmp_path / "e.db"))
    run = store.start_run("check", plan_name="shop", plan_hash="ab" * 32)
    step = store.start_step(run, "R", "reality check", timeout=30)
    now = datetime.now(UTC)
    store.record(run, step, Observation("http", "health", {"url": "u"}, False, "status 200",
                                        "connection refused", "", now, now, 1, data={"k": 1}))
    store.add_artifact(run, "diagnostics", "pod api-1: ImagePullBackOff")
    store.finish_step(step, "failed", "0/1 passed")
    store.finish_run(run, "failed", "1 of 1 failed")
    bundle = store.load(run[:12])
    assert bundle.run.status == "failed" and bundle.run.plan_name == "shop"
    (seen,) = bundle.steps[0].observations
    assert (seen.observed, seen.data, seen.started.tzinfo) == ("connection refused", {"k": 1}, UTC)
    assert bundle.artifacts[0].content.endswith("ImagePullBackOff")
    assert store.resolve("latest") == run


def test_unknown_and_ambiguous_runs_are_clear_errors(tmp_path: Path) -> None:
    store = EvidenceStore(str(tmp_path / "e.db"))
    with pytest.raises(StoreError, match="holds no runs yet"):
        store.resolve("latest")
    store.start_run("probe")
    store.start_run("probe")
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve("2")
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.resolve("nope")


def test_schema_is_migrated_to_head(tmp_path: Path) -> None:
    EvidenceStore(str(tmp_path / "e.db"))
    with sqlite3.connect(tmp_path / "e.db") as db:
        assert db.execute("select version_num from alembic_version").fetchone() == (
            tables.HEAD_REVISION,)
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)


def test_concurrent_writer_processes_never_corrupt(tmp_path: Path) -> None:
    """Six processes open a fresh store at once (racing the migration) and write 600 rows."""
    path = tmp_path / "shared.db"
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), "25"],
                         stderr=subprocess.PIPE, text=True)
        for w in range(6)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    with sqlite3.connect(path) as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from runs where status='passed'").fetchone() == (150,)
        assert db.execute("select count(*) from observations").fetchone() == (450,)
        assert db.execute("select count(distinct run_id) from steps").fetchone() == (150,)


def test_unsupported_store_url_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unsupported store URL"):
        EvidenceStore("mysql://user:pw@host/db")


def test_unreachable_postgres_is_one_paragraph(closed_port: int) -> None:
    with pytest.raises(StoreError) as caught:
        EvidenceStore(f"postgresql://nobody:hunter2secret@127.0.0.1:{closed_port}/x")
    message = str(caught.value)
    assert "\n" not in message and "Connection refused" in message
    assert "hunter2secret" not in message  # the URL's password is hidden


def test_held_steps_are_one_row_each_by_key_and_masked(tmp_path: Path) -> None:
    """What a Temporal run's finished steps returned: one row per idempotency key, the run's
    meta untouched, secrets masked as in all evidence."""
    from phasegate import secrets

    token = "s3cret-held-91c2"
    secrets.register(token)
    try:
        store = EvidenceStore(str(tmp_path / "e.db"))
        run = store.start_run("run", meta={"engine": "temporal"})
        assert store.held_step(f"{run}/R") is None
        for n in range(30):
            store.hold_step(run, f"{run}/step/{n}", {"said": [f"line {n}"], "n": n})
        store.hold_step(run, f"{run}/P", {"said": [], "detail": f"token {token}"})
        assert store.held_step(f"{run}/step/7") == {"said": ["line 7"], "n": 7}
        assert store.held_step(f"{run}/P") == {"said": [], "detail": "token ******"}
        assert store.held_step(f"{run}/R") is None
        record = store.run(run)
        assert record is not None and record.meta == {"engine": "temporal"}
    finally:
        secrets.forget_all()
    with sqlite3.connect(tmp_path / "e.db") as db:
        assert db.execute("select count(*) from held_steps").fetchone() == (31,)


def test_structured_data_in_json_evidence_keeps_secrets_masked(tmp_path: Path) -> None:
    import json

    from phasegate import reports, secrets

    token = "s3cret-in-data-7f6e"
    secrets.register(token)
    try:
        store = EvidenceStore(str(tmp_path / "e.db"))
        run = store.start_run("probe")
        step = store.start_step(run, "R", "probe")
        now = datetime.now(UTC)
        store.record(run, step, Observation(
            "http", "api", {}, True, "200", "200", "", now, now, 1,
            data={"headers": {"authorization": f"Bearer {token}"}, "sans": ["api.local"]}))
        store.finish_step(step, "passed")
        store.finish_run(run, "passed")
        exported = reports.render(store.load(run), "json")
    finally:
        secrets.forget_all()
    assert token not in exported
    data = json.loads(exported)["steps"][0]["checks"][0]["data"]
    assert data == {"headers": {"authorization": "Bearer ******"}, "sans": ["api.local"]}


def test_observations_recorded_from_several_threads_read_back_alike(tmp_path: Path) -> None:
    # each gate records from its own writer thread; the held SQLite connection serves them all
    import threading

    store = EvidenceStore(str(tmp_path / "e.db"))
    run = store.start_run("check")
    step = store.start_step(run, "R", "gate")
    now = datetime.now(UTC)

    def record(n: int) -> None:
        store.record(run, step, Observation("tcp", f"t{n}", {"n": n}, n % 2 == 0, "x", "y",
                                            "", now, now, 1, data={"n": n}))

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
        thread.join()
    store.close()
    record(4)  # a closed store's recorder opens again
    seen = store.load(run).steps[0].observations
    assert [(o.name, o.passed, o.data, o.started) for o in seen] == [
        (f"t{n}", n % 2 == 0, {"n": n}, now) for n in range(5)]


def test_an_observation_masked_before_a_secret_was_registered_is_masked_again(
    tmp_path: Path,
) -> None:
    # the store skips masking what the engine masked already, but only with today's secrets
    import asyncio

    from phasegate import secrets
    from phasegate.engine import attempt
    from phasegate.plan import probe_call
    from phasegate.probes.base import ProbeContext

    token = "late-s3cret-91ab"
    (tmp_path / "f.txt").write_text(f"holds {token}\n")
    call = probe_call.build({"file": {"path": "f.txt", "markers": [token]}, "name": token})
    try:
        observation = asyncio.run(attempt.run(call, ProbeContext(base_dir=tmp_path)))
        assert secrets.is_masked(observation)
        secrets.register(token)
        assert not secrets.is_masked(observation)
        store = EvidenceStore(str(tmp_path / "e.db"))
        run = store.start_run("probe")
        store.record(run, store.start_step(run, "R", "probe"), observation)
        store.close()
    finally:
        secrets.forget_all()
    for written in tmp_path.glob("e.db*"):  # the WAL too
        assert token.encode() not in written.read_bytes()
