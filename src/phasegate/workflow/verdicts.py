"""What a stage's outcomes mean for the run: where it stops and why, in words.

Plain functions over plain records and only the standard library: the local engine and the
Temporal workflow (whose sandbox admits nothing heavier) decide a stage with the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class TracerLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def evidence(self) -> str: ...


class PhaseLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def detail(self) -> str: ...


def tracer_line(outcome: TracerLike) -> str:
    return (f"0 · tracer {outcome.name}: {'passed' if outcome.passed else 'FAILED'}"
            f" — {outcome.evidence}")


def tracers_stop(outcomes: Sequence[TracerLike]) -> str | None:
    """Why stage 0 stops (None: every tracer passed)."""
    failed = [t for t in outcomes if not t.passed]
    if not failed:
        return None
    return "; ".join(f"tracer {t.name}: {t.evidence}" for t in failed)


def phases_stop(outcomes: Sequence[PhaseLike], run_id: str) -> tuple[str, str] | None:
    """Where and why stage I stops (None: every phase passed)."""
    last = outcomes[-1] if outcomes else None
    if last is None or last.status == "passed":
        return None
    return (f"phase {last.index}",
            f"failed at phase {last.index} ({last.name}): {last.detail}. Options: "
            f"fix and `phasegate resume {run_id}`; roll back further; or return to planning")

