"""An answer mined in the background: the old one is served while the new one is mined."""

from __future__ import annotations

import threading
import time

from phasegate.web import cached


def test_a_stale_answer_is_served_at_once_while_the_next_is_computed() -> None:
    answers = iter(["first", "second"])
    release = threading.Event()
    computing = threading.Event()

    def compute() -> str:
        answer = next(answers)
        if answer == "second":
            computing.set()
            release.wait(10)
        return answer

    kept = cached.Refreshed(compute, ttl=0.0)
    assert kept.get()[0] == "first"
    time.sleep(0.01)  # stale now
    assert kept.get()[0] == "first"  # starts the next computation
    assert computing.wait(5)
    started = time.monotonic()
    assert kept.get()[0] == "first"  # while it runs: no waiting for it
    assert time.monotonic() - started < 1
    release.set()
    deadline = time.monotonic() + 5
    while kept.get()[0] != "second" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kept.get()[0] == "second"
