"""An answer too costly to compute per request (recurring patterns mine every failure in
the window): computed in the background, served from memory, recomputed when older than
its time to live, the old answer served meanwhile (stale while revalidating)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Refreshed(Generic[T]):
    def __init__(self, compute: Callable[[], T], ttl: float) -> None:
        self._compute, self._ttl = compute, ttl
        self._value: T | None = None
        self._at = 0.0  # time.monotonic() of the answer kept
        self._lock = threading.Lock()  # held while computing
        self._flag = threading.Lock()  # guards _running only: never held while computing
        self._running = False
        self.took = 0.0  # seconds the last computation took

    def warm(self) -> None:
        """Start computing now, in the background (at start-up: the first visit is quick)."""
        self._start()

    def get(self) -> tuple[T, float]:
        """The answer and its age in seconds; waits only when none was ever computed."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._run()
        elif time.monotonic() - self._at > self._ttl:
            self._start()
        assert self._value is not None
        return self._value, time.monotonic() - self._at

    def _start(self) -> None:
        with self._flag:
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._background, daemon=True, name="refresh").start()

    def _background(self) -> None:
        try:
            with self._lock:
                self._run()
        except Exception:  # the next request asks again, and shows the error then
            pass
        finally:
            with self._flag:
                self._running = False

    def _run(self) -> None:
        started = time.monotonic()
        value = self._compute()
        self.took = time.monotonic() - started
        self._value, self._at = value, time.monotonic()
