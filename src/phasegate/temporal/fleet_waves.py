"""The pure logic of a fleet: which targets run in which wave, when no further wave
starts, and what each stage of a target's run shows. Standard library only: the fleet's
workflow uses it inside Temporal's sandbox, ``fleet status`` outside it."""

from __future__ import annotations

from collections.abc import Sequence

PASSED = "passed"
NOT_STARTED = "not started"
UNFINISHED = ("running", "awaiting approval")


def plan_waves(names: Sequence[str], canary: int, max_parallel: int) -> list[list[str]]:
    """The first ``canary`` targets (in file order) are the canary wave; the rest follow in
    waves of at most ``max_parallel``, in file order."""
    if canary < 1 or max_parallel < 1:
        raise ValueError("canary and max_parallel must be at least 1")
    first, rest = list(names[:canary]), list(names[canary:])
    return [first, *(rest[at:at + max_parallel] for at in range(0, len(rest), max_parallel))]


def failures(statuses: Sequence[str]) -> int:
    """Targets whose run ended other than passed (a run still going is no failure yet)."""
    return sum(1 for status in statuses
               if status not in (PASSED, NOT_STARTED, *UNFINISHED))


def stop_reason(statuses: Sequence[str], max_failures: int) -> str:
    """Why no further wave starts ("" when the next may): ``max_failures`` reached."""
    failed = failures(statuses)
    if failed >= max_failures:
        return (f"{failed} target{'s' if failed > 1 else ''} failed (max_failures "
                f"{max_failures}): no further wave started")
    return ""


def stage_cells(stages: Sequence[str], status: str, stage: str,
                stopped_at: str | None) -> dict[str, str]:
    """What each stage of one run shows: passed, the run's status where it stopped (or is
    now), "-" for stages not reached."""
    if status == NOT_STARTED:
        return dict.fromkeys(stages, "-")
    if status == PASSED:
        return dict.fromkeys(stages, PASSED)
    at = stopped_at or stage
    if at not in stages:  # stopped before its first stage (it could not open)
        return {name: (status if i == 0 else "-") for i, name in enumerate(stages)}
    reached = stages.index(at)
    return {name: PASSED if i < reached else status if i == reached else "-"
            for i, name in enumerate(stages)}


def fleet_status(statuses: Sequence[str], stopped: str) -> str:
    """The fleet's verdict once its waves are done: passed only when every target passed."""
    if any(status == "interrupted" for status in statuses):
        return "interrupted"
    if stopped or any(status != PASSED for status in statuses):
        return "failed"
    return PASSED
