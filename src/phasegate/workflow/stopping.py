"""How a run that stops on an exception is recorded: interrupted (Ctrl-C, SIGTERM,
cancellation) or error (phasegate could not go on), never confused."""

from __future__ import annotations

import asyncio


def status_of(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError | SystemExit):
        return "interrupted"
    return "error"


def summary_of(exc: BaseException, run_id: str) -> str:
    if status_of(exc) == "interrupted":
        return f"interrupted; resume with `phasegate resume {run_id}`"
    return f"stopped by an error: {exc}"
