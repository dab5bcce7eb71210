"""Gates wait for reality to change, stop early when it cannot, and keep every attempt."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

from phasegate.engine import gate
from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from phasegate.store import evidence
from tests.fixtures.servers import _Handler


def test_gate_waits_until_a_late_service_answers(closed_port: int) -> None:
    call = probe_call.build(
        {"http": {"url": f"http://127.0.0.1:{closed_port}/health"}, "interval": "100ms"}
    )
    server_holder: list[ThreadingHTTPServer] = []

    def start_later() -> None:
        time.sleep(0.6)
        server = ThreadingHTTPServer(("127.0.0.1", closed_port), _Handler)
        server_holder.append(server)
        server.serve_forever()

    threading.Thread(target=start_later, daemon=True).start()
    try:
        result = asyncio.run(gate.evaluate([call], ProbeContext(), timeout=10))
    finally:
        for server in server_holder:
            server.shutdown()
    assert result.outcome == "passed"
    assert len(result.observations) >= 3
    assert [o.attempt for o in result.observations] == list(range(1, len(result.observations) + 1))
    assert result.observations[0].observed == "connection refused"
    assert result.observations[-1].passed


def test_gate_times_out_and_keeps_every_attempt(closed_port: int) -> None:
    call = probe_call.build({"tcp": {"host": "127.0.0.1", "port": closed_port},
                             "interval": "100ms"})
    result = asyncio.run(gate.evaluate([call], ProbeContext(), timeout=0.8))
    assert result.outcome == "timed_out"
    assert 0.7 < result.duration < 3
    assert len(result.observations) >= 3 and not any(o.passed for o in result.observations)


def test_fail_fast_ends_the_gate_at_once(closed_port: int, tmp_path: Path) -> None:
    calls = [
        probe_call.build({"tcp": {"host": "127.0.0.1", "port": closed_port}, "interval": 1}),
        probe_call.build({"git": {"path": str(tmp_path)}}),
    ]
    started = time.monotonic()
    result = asyncio.run(gate.evaluate(calls, ProbeContext(), timeout=30))
    assert time.monotonic() - started < 5
    assert result.outcome == "fail_fast"
    assert [o.probe for o in result.finals] == ["tcp", "git"]


def test_probes_run_concurrently() -> None:
    calls = [probe_call.build({"command": {"run": ["sleep", "0.5"]}, "name": f"s{i}"})
             for i in range(4)]
    started = time.monotonic()
    result = asyncio.run(gate.evaluate(calls, ProbeContext(), timeout=0))
    assert result.passed
    assert time.monotonic() - started < 1.5


def test_a_probe_that_passed_early_must_still_hold_when_the_gate_passes(
    closed_port: int, tmp_path: Path
) -> None:
    marker = tmp_path / "ready"
    marker.write_text("ok")
    calls = [
        probe_call.build({"file": {"path": str(marker)}, "interval": "100ms", "name": "A"}),
        probe_call.build({"tcp": {"host": "127.0.0.1", "port": closed_port},
                          "interval": "100ms", "name": "B"}),
    ]
    holder: list[ThreadingHTTPServer] = []

    def meanwhile() -> None:
        time.sleep(0.3)
        marker.unlink()  # A stops holding after it passed
        time.sleep(0.3)
        server = ThreadingHTTPServer(("127.0.0.1", closed_port), _Handler)  # B starts passing
        holder.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        time.sleep(0.6)
        marker.write_text("ok")  # A holds again

    threading.Thread(target=meanwhile, daemon=True).start()
    try:
        result = asyncio.run(gate.evaluate(calls, ProbeContext(), timeout=10))
    finally:
        for server in holder:
            server.shutdown()
    assert result.passed
    assert result.duration > 1.1  # not at B's first pass, while A no longer held
    a_attempts = [o for o in result.observations if o.name == "A"]
    assert a_attempts[0].passed and not all(o.passed for o in a_attempts)
    assert a_attempts[-1].passed and result.finals[0].passed


def test_store_writes_do_not_stall_the_event_loop(closed_port: int, tmp_path: Path) -> None:
    # Another process writing the same store holds its write lock for 1.5 s (the store
    # is documented to queue writers on a busy timeout). Waiting for it must not freeze
    # the loop that serves watches and every other probe of the gate.
    path = tmp_path / "e.db"
    store = evidence.EvidenceStore(str(path))
    run_id = store.start_run("check")
    step_id = store.start_step(run_id, "R", "assumptions")
    call = probe_call.build(
        {"http": {"url": f"http://127.0.0.1:{closed_port}/health"}, "interval": "100ms"}
    )
    locked = threading.Event()

    def other_writer() -> None:
        connection = sqlite3.connect(path, timeout=60, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(1.5)
        connection.execute("COMMIT")
        connection.close()

    async def gate_beside_a_heartbeat() -> tuple[gate.GateResult, float]:
        loop = asyncio.get_running_loop()
        lags = [0.0]

        async def heartbeat() -> None:
            while True:
                started = loop.time()
                await asyncio.sleep(0.02)
                lags.append(loop.time() - started - 0.02)

        beating = asyncio.create_task(heartbeat())
        result = await gate.evaluate([call], ProbeContext(), timeout=2.5,
                                     on_observation=lambda o: store.record(run_id, step_id, o))
        beating.cancel()
        return result, max(lags)

    holder = threading.Thread(target=other_writer)
    holder.start()
    locked.wait(5)
    try:
        result, worst_lag = asyncio.run(gate_beside_a_heartbeat())
    finally:
        holder.join()
    assert worst_lag < 0.5, f"the event loop stalled for {worst_lag:.2f} s"
    assert store.count_observations(run_id) == len(result.observations) >= 2
    store.close()


def test_each_check_keeps_its_own_waiting_interval_when_names_repeat(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("replicas: 3\n")
    calls = [probe_call.build({"file": {"path": str(values)}, "interval": interval})
             for interval in ("100ms", "2s")]
    assert calls[0].name == calls[1].name
    result = asyncio.run(gate.evaluate(calls, ProbeContext(), timeout=5))
    assert result.passed
    assert [seconds for _, seconds in result.intervals] == [0.1, 2.0]


def test_a_failed_write_stops_the_gate_and_every_made_observation_is_offered(
    tmp_path: Path,
) -> None:
    # the loop no longer waits for each write; a write that fails must still end the gate
    import pytest

    from phasegate.errors import StoreError

    (tmp_path / "present.txt").write_text("x\n")
    calls = [probe_call.build({"file": {"path": "missing.txt"}, "interval": "50ms"})]
    offered: list[str] = []

    def failing(observation: object) -> None:
        offered.append(observation.name)  # type: ignore[attr-defined]
        raise StoreError("cannot write to the evidence store: disk full")

    started = time.monotonic()
    with pytest.raises(StoreError, match="disk full"):
        asyncio.run(gate.evaluate(calls, ProbeContext(base_dir=tmp_path), timeout=20,
                                  on_observation=failing))
    assert time.monotonic() - started < 5  # not the whole 20 s timeout
    assert offered[:1] == ["file missing.txt"]

    many = [probe_call.build({"file": {"path": "present.txt"}, "name": f"f{i}"})
            for i in range(500)]
    recorded: list[str] = []
    result = asyncio.run(gate.evaluate(many, ProbeContext(base_dir=tmp_path),
                                       on_observation=lambda o: recorded.append(o.name)))
    assert result.passed and recorded == [o.name for o in result.observations]


def test_a_gate_hands_its_observations_over_in_order_in_batches(tmp_path: Path) -> None:
    for i in range(40):
        (tmp_path / f"f{i}.txt").write_text(f"line {i}\n")
    calls = [probe_call.build({"file": {"path": f"f{i % 40}.txt", "markers": [f"line {i % 40}"]},
                               "name": f"file-{i}"}) for i in range(1200)]
    batches: list[list[str]] = []
    each: list[str] = []
    result = asyncio.run(gate.evaluate(
        calls, ProbeContext(base_dir=tmp_path), 0,
        lambda o: each.append(o.name),
        on_observations=lambda batch: batches.append([o.name for o in batch])))
    assert result.passed
    made = [o.name for o in result.observations]
    assert [name for batch in batches for name in batch] == made == each
    assert all(len(batch) <= gate._Writer.BATCH for batch in batches)


def test_a_batch_of_observations_is_one_transaction_read_back_in_order(tmp_path: Path) -> None:
    store = evidence.EvidenceStore(str(tmp_path / "e.db"))
    run = store.start_run("check")
    step = store.start_step(run, "R", "reality check")
    now = datetime.now(UTC)
    made = [Observation("file", f"file-{i}", {"path": f"f{i}"}, True, "exists", "present", "",
                        now, now, 1) for i in range(300)]
    ids = store.record_many(run, step, made)
    assert ids == sorted(ids) and len(set(ids)) == 300
    assert store.record_many(run, step, []) == []
    read = store.load(run).steps[0].observations
    assert [o.name for o in read] == [o.name for o in made]
