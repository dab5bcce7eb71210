"""How a run that stops on an exception is recorded: interrupted (Ctrl-C, SIGTERM,
cancellation) or error (phasegate could not go on), never confused — and never a step
left ``running`` by a stop that phasegate saw happen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from phasegate.store.evidence import EvidenceStore

ABANDONED = "abandoned"


def status_of(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError | SystemExit):
        return "interrupted"
    return "error"


def summary_of(exc: BaseException, run_id: str) -> str:
    if status_of(exc) == "interrupted":
        return f"interrupted; resume with `phasegate resume {run_id}`"
    return f"stopped by an error: {exc}"


@contextlib.contextmanager
def closed_on_stop(store: EvidenceStore, step_id: int) -> Iterator[None]:
    """Record the step as interrupted or error when an exception leaves the block (the
    block records its own outcomes otherwise)."""
    try:
        yield
    except BaseException as exc:
        store.finish_step(step_id, status_of(exc), str(exc) or status_of(exc))
        raise


def abandon_cut_short(store: EvidenceStore, run_id: str, *,
                      when: str = "the run was resumed") -> list[str]:
    """Close the steps a crash (kill -9, power loss) left ``running``: nobody will finish
    them. Called when the run is resumed (on Temporal: when a step is retried); returns
    their names."""
    closed = []
    for step in store.load(run_id).steps:
        if step.status == "running" and step.id:
            store.finish_step(step.id, ABANDONED, "cut short: the process ended (crash or "
                              f"kill -9) before this step finished; closed when {when}")
            closed.append(step.name)
    return closed
