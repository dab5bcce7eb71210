"""``phasegate``: the command-line entry point. Heavy imports happen inside commands.

Signals are routed first, before typer and the commands load: Ctrl-C or SIGTERM at any
moment leave with exit 3 and one line, never a traceback or a bare 130/143. Commands
that record a run stop at a safe point instead (``common.run_async``).

``phasegate version`` is answered here, before typer is imported: typer alone costs about
100 ms of start-up on each invocation (it loads pydantic to convert parameters)."""

from __future__ import annotations

import sys
from typing import Any

from phasegate.cli import exit_codes, signals

signals.leave_quietly()

_VERSION_FLAGS = {"--json", "-q", "--quiet"}


def main() -> None:
    if _answered_at_once(sys.argv[1:]):
        return
    from phasegate.cli import app

    try:
        app.app()
    except KeyboardInterrupt:
        raise SystemExit(exit_codes.INTERRUPTED) from None


def _answered_at_once(args: list[str]) -> bool:
    """``version`` with no option but --json/-q, on either side: printed without typer."""
    if args.count("version") != 1 or not set(args) - {"version"} <= _VERSION_FLAGS:
        return False
    from phasegate import __version__ as found
    from phasegate.cli import documents

    if "--json" in args:
        import json

        print(json.dumps(documents.stamped({"version": found})))
    else:
        print(f"phasegate {found}")
    return True


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from phasegate.cli.main import app`` (CliRunner tests)
        from phasegate.cli import app as tree

        return tree.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
