"""Pieces shared by commands: opening the store, running async work, mapping errors."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from phasegate.cli import exit_codes
from phasegate.cli.output import Terminal

if TYPE_CHECKING:
    from phasegate.store.evidence import EvidenceStore

T = TypeVar("T")

STORE_HELP = "evidence store: a path, sqlite:///FILE or postgresql://… (env PHASEGATE_STORE)"


@dataclasses.dataclass(frozen=True)
class Options:
    """What this invocation asked for, on either side of the subcommand's name, with the
    environment and the project file filling what the flags left unset
    (``cli/common_options.py``). Anything that prints progress reads ``verbosity`` here."""

    verbosity: int = 0  # -1 with -q, 0 by default, 1 with -v, 2 with -vv
    json: bool = False
    store: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    reports: str | None = None

    @property
    def quiet(self) -> bool:
        """-q: no progress lines, only the result (and errors)."""
        return self.verbosity < 0


_current = Options()


def options() -> Options:
    """The options of the command running now (defaults outside a command)."""
    return _current


def set_options(settled: Options) -> None:
    global _current
    _current = settled


def open_store(url: str | None) -> EvidenceStore:
    from phasegate.store.evidence import EvidenceStore

    return EvidenceStore(url or os.environ.get("PHASEGATE_STORE") or None)


def run_async(terminal: Terminal, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; phasegate errors leave with exit 2, Ctrl-C with exit 3."""
    import asyncio

    from phasegate.cli import signals

    signals.stop_at_safe_points()
    try:
        result: T = guarded(terminal, asyncio.run, work)
    finally:
        signals.leave_quietly()
    return result


def guarded(terminal: Terminal, work: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``work``; phasegate errors leave through the terminal's one door."""
    from phasegate.errors import PhasegateError

    try:
        return work(*args, **kwargs)
    except KeyboardInterrupt:
        terminal.abort(KeyboardInterrupt("interrupted"), exit_codes.INTERRUPTED)
    except PhasegateError as exc:
        terminal.abort(exc, exc.exit_code)


def parse_timeout(terminal: Terminal, value: str | None) -> float:
    from phasegate.durations import parse_duration
    from phasegate.errors import PlanError

    if value is None:
        return 0.0
    try:
        return parse_duration(value)
    except ValueError as exc:
        terminal.abort(PlanError(f"--timeout: {exc}"))


def write_output(terminal: Terminal, path: Path, text: str) -> None:
    """Write a report or schema the user asked for with -o; a failure is exit 2."""
    from phasegate.errors import PlanError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        terminal.abort(PlanError(f"cannot write {path}: {exc.strerror}"))
