"""All output goes through here: Rich for people, one JSON document for machines.

Every text printed is masked for secrets first.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NoReturn

from phasegate import secrets
from phasegate.cli import exit_codes


class Terminal:
    def __init__(self, json_mode: bool = False) -> None:
        from rich.console import Console

        from phasegate.cli import common

        self.json_mode = json_mode
        self.quiet = common.options().quiet  # -q: results and errors only
        self.out = Console(highlight=False, soft_wrap=False)
        if not self.out.is_terminal and "COLUMNS" not in os.environ:
            self.out = Console(highlight=False, soft_wrap=False, width=120)  # logs, CI
        # soft wrap: an error stays one paragraph (one line), its paths and names whole
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def print(self, text: str = "", **kwargs: Any) -> None:
        if not self.json_mode:
            self.out.print(secrets.mask(text), **kwargs)

    def say(self, text: str) -> None:
        """Plain text (data, not markup): brackets in it are printed as they are."""
        if not self.json_mode:
            self.out.print(_escape(secrets.mask(text)))

    def note(self, text: str) -> None:
        """Side remarks for people; on stderr so stdout stays clean for pipes."""
        if not self.json_mode and not self.quiet:
            self.err.print(secrets.mask(text), style="dim")

    def render(self, renderable: Any) -> None:
        if not self.json_mode:
            self.out.print(renderable)

    def emit(self, document: Any) -> None:
        """The one JSON document a --json command prints."""
        if self.json_mode:
            text = json.dumps(secrets.mask_data(document), indent=2, default=str)
            sys.stdout.write(text + "\n")

    def waiting(self, message: str) -> AbstractContextManager[Any]:
        """A live status line while something waits (people only, and only on a terminal)."""
        if self.json_mode or self.quiet or not self.err.is_terminal:
            return nullcontext()
        return self.err.status(secrets.mask(message))

    def abort(self, error: BaseException, code: int = exit_codes.BAD_INPUT) -> NoReturn:
        """Leave with one paragraph, never a traceback."""
        message = secrets.mask(str(error)) or type(error).__name__
        if self.json_mode:
            kind = type(error).__name__
            sys.stdout.write(
                json.dumps({"error": {"type": kind, "message": message, "exit_code": code}}) + "\n"
            )
        else:
            self.err.print(f"[bold red]error:[/] {_escape(message)}")
        raise SystemExit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
