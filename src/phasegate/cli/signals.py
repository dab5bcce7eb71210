"""Where Ctrl-C and SIGTERM go. Outside a recorded run they leave at once with exit 3 and
one line (never a traceback, never a bare 130 or 143); inside one (``common.run_async``)
both become KeyboardInterrupt, which the workflow turns into a stop at a safe point."""

from __future__ import annotations

import atexit
import os
import signal
import sys
from typing import Any

from phasegate.cli import exit_codes


def _leave(signum: int, _frame: Any) -> None:
    sys.stderr.write(f"interrupted ({signal.Signals(signum).name})\n")
    # Not `raise SystemExit`: a handler that runs inside a weakref callback or a __del__
    # (the import machinery has such callbacks) has its exception printed and ignored, and
    # the command went on to run a whole plan. Nothing is being recorded here, so leave at
    # once, after the exit handlers (they remove the kubeconfig's temporary key files).
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_codes.INTERRUPTED)


def _as_ctrl_c(_signum: int, _frame: Any) -> None:
    signal.raise_signal(signal.SIGINT)


def leave_quietly() -> None:
    signal.signal(signal.SIGINT, _leave)
    signal.signal(signal.SIGTERM, _leave)


def stop_at_safe_points() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _as_ctrl_c)  # SIGTERM stops exactly as Ctrl-C does
