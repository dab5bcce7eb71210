"""How waits are drawn: change lines in logs, live lines on a terminal, secrets masked."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console

from phasegate import secrets
from phasegate.cli import waits
from phasegate.engine import gate
from phasegate.engine.progress import ProbeWait
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext


def _event(observed: str, state: str = "waiting", elapsed: float = 1.0,
           index: int = 0) -> ProbeWait:
    return ProbeWait("I · phase 1: web · gate", index, "web rollout", state,  # type: ignore[arg-type]
                     "Available", observed, elapsed, 120.0, 1, "watch")


def _log() -> tuple[waits.WaitDisplay, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=300, force_terminal=False)
    return waits.WaitDisplay(console, live=False), buffer


def test_a_log_gets_a_line_per_change_not_per_poll() -> None:
    display, buffer = _log()
    for observed in ["0 of 2 available", "0 of 2 available", "1 of 2 available",
                     "1 of 2 available", "1 of 2 available"]:
        display(_event(observed))
    display(_event("2 of 2 available", state="passed", elapsed=7.5))
    lines = buffer.getvalue().splitlines()
    assert lines == [
        "… [I · phase 1: web · gate] web rollout: 0 of 2 available "
        "(waiting for Available; 1.0s of 2m00s)",
        "… [I · phase 1: web · gate] web rollout: 1 of 2 available "
        "(waiting for Available; 1.0s of 2m00s)",
        "✔ [I · phase 1: web · gate] web rollout: passed after 7.5s — 2 of 2 available",
    ]


def test_probes_of_one_gate_change_apart_and_a_settled_probe_starts_afresh() -> None:
    display, buffer = _log()
    display(_event("missing", index=0))
    display(_event("missing", index=1))  # another probe: a line of its own
    display(_event("missing", index=0))
    display(_event("missing", state="timed out", index=0))
    display(_event("missing", index=0))  # waited on again (a later recheck lapsed)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("✘ ") and "timed out after" in lines[2]


def test_quiet_shows_nothing() -> None:
    buffer = io.StringIO()
    display = waits.WaitDisplay(Console(file=buffer), live=False, quiet=True)
    display(_event("missing"))
    display(_event("present", state="passed"))
    assert buffer.getvalue() == ""


def test_the_live_line_says_what_it_waits_for_what_it_sees_and_for_how_long() -> None:
    line = waits.live_line(_event("1 of 2 available"), 65.0)
    assert line == ("web rollout: waiting for Available · now 1 of 2 available · "
                    "1m05s / 2m00s · by watch")
    polled = ProbeWait("g", 0, "f", "waiting", "exists", "missing", 0.2, 10, 3, "every 0.2s")
    assert waits.live_line(polled, 0.25).endswith("0.2s / 10.0s · polled every 0.2s")


def test_secrets_are_masked_in_log_and_live_lines() -> None:
    secret = "s3cr3t-progress-value"
    secrets.register(secret)
    try:
        display, buffer = _log()
        display(_event(f"token {secret} refused"))
        assert secret not in buffer.getvalue() and secrets.MASK in buffer.getvalue()
        live_buffer = io.StringIO()
        live = waits.WaitDisplay(Console(file=live_buffer, width=200, force_terminal=True),
                                 live=True)
        live(_event(f"token {secret} refused"))
        Console(file=live_buffer, width=200).print(live)
        live.close()
        assert secret not in live_buffer.getvalue() and secrets.MASK in live_buffer.getvalue()
    finally:
        secrets.forget_all()


def test_the_engine_says_waiting_then_settled_and_nothing_for_a_probe_that_never_waited(
    tmp_path: Path,
) -> None:
    late = probe_call.build({"file": {"path": "late.txt"}, "interval": 0.05,
                             "max_interval": 0.05})
    there = probe_call.build({"file": {"path": "there.txt"}})
    (tmp_path / "there.txt").write_text("x")
    events: list[ProbeWait] = []

    async def main() -> gate.GateResult:
        async def appear() -> None:
            await asyncio.sleep(0.5)
            (tmp_path / "late.txt").write_text("x")

        appearing = asyncio.ensure_future(appear())
        result = await gate.evaluate([late, there], ProbeContext(base_dir=tmp_path), 10,
                                     on_wait=events.append, label="test gate")
        await appearing
        return result

    result = asyncio.run(main())
    assert result.passed
    assert {e.index for e in events} == {0}  # there.txt passed at once: never waited on
    assert all(e.state == "waiting" for e in events[:-1]) and len(events) >= 3
    assert events[-1].state == "passed" and events[-1].observed.startswith("present")
    first = events[0]
    assert (first.gate, first.probe, first.waiting_for, first.observed, first.timeout) == (
        "test gate", "file late.txt", "exists", "missing", 10)
    assert first.how.startswith("every ")
    assert [e.elapsed for e in events] == sorted(e.elapsed for e in events)


def test_a_gate_asked_once_says_nothing(tmp_path: Path) -> None:
    events: list[ProbeWait] = []
    call = probe_call.build({"file": {"path": "absent.txt"}})
    result = asyncio.run(gate.evaluate([call], ProbeContext(base_dir=tmp_path), 0,
                                       on_wait=events.append))
    assert not result.passed and events == []


def test_a_probe_that_fails_fast_stops_the_others_and_each_says_how_it_settled(
    tmp_path: Path,
) -> None:
    # a tool that fails once, then is gone: the second attempt fails fast ("not found")
    tool = tmp_path / "tool"
    tool.write_text('#!/bin/sh\nrm -- "$0"\nexit 1\n')
    tool.chmod(0o755)
    waiting = probe_call.build({"file": {"path": "never.txt"}, "interval": 0.05,
                                "max_interval": 0.05})
    vanishing = probe_call.build({"command": {"run": [str(tool)]}, "interval": 0.3})
    events: list[ProbeWait] = []
    result = asyncio.run(gate.evaluate([waiting, vanishing], ProbeContext(base_dir=tmp_path),
                                       30, on_wait=events.append, label="g"))
    assert result.outcome == "fail_fast"
    settled = {e.index: e for e in events if e.state != "waiting"}
    assert settled[1].state == "failed fast" and "not found" in settled[1].observed
    assert settled[0].state == "stopped"  # it waited, then another probe failed fast
    assert [e.state for e in events if e.index == 1] == ["waiting", "failed fast"]


def test_a_probe_that_runs_out_of_time_says_timed_out(tmp_path: Path) -> None:
    call = probe_call.build({"file": {"path": "never.txt"}, "interval": 0.05})
    events: list[ProbeWait] = []
    result = asyncio.run(gate.evaluate([call], ProbeContext(base_dir=tmp_path), 0.5,
                                       on_wait=events.append))
    assert result.outcome == "timed_out"
    assert events[-1].state == "timed out" and events[-1].observed == "missing"
    assert all(e.state == "waiting" for e in events[:-1])
