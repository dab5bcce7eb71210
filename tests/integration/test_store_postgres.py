"""The team store: the same evidence in a real PostgreSQL, written by several processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from phasegate.observation import Observation
from phasegate.store.evidence import EvidenceStore
from tests.integration.test_store import WRITER


def test_round_trip_and_concurrent_writers(postgres_url: str) -> None:
    workers = [subprocess.Popen([sys.executable, "-c", WRITER, postgres_url, str(w), "10"],
                                stderr=subprocess.PIPE, text=True) for w in range(4)]
    for worker in workers:  # they race to migrate a fresh database, then write
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    store = EvidenceStore(postgres_url)
    run = store.start_run("check", plan_name="team")
    step = store.start_step(run, "R", "reality check")
    now = datetime.now(UTC)
    store.record(run, step, Observation("tcp", "db", {}, True, "open", "connected", "", now, now,
                                        1))
    store.finish_step(step, "passed")
    store.finish_run(run, "passed", "ok")
    bundle = store.load(run)
    assert bundle.run.status == "passed"
    assert bundle.steps[0].observations[0].observed == "connected"
    assert sum(1 for r in store.runs(100) if r.plan_name and r.plan_name.startswith("w")) == 40
    assert store.count_observations() == 4 * 10 * 3 + 1
    assert "phasegate@127.0.0.1" in store.describe() and "postgresql" in store.describe()
