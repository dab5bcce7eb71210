"""All output goes through here: Rich for people, one JSON document for machines.

Every text printed is masked for secrets first.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from phasegate import secrets
from phasegate.cli import documents, exit_codes

if TYPE_CHECKING:
    from phasegate.cli.waits import WaitDisplay


class Terminal:
    def __init__(self, json_mode: bool = False, quiet: bool | None = None) -> None:
        from rich.console import Console

        from phasegate.cli import common

        self.json_mode = json_mode
        self.quiet = common.options().quiet if quiet is None else quiet  # -q: results only
        self._display: WaitDisplay | None = None
        self.out = Console(highlight=False, soft_wrap=False)
        if not self.out.is_terminal and "COLUMNS" not in os.environ:
            self.out = Console(highlight=False, soft_wrap=False, width=120)  # logs, CI
        # soft wrap: an error stays one paragraph (one line), its paths and names whole
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def print(self, text: str = "", **kwargs: Any) -> None:
        # a line of text is never broken by us (a path or ref in it stays whole to copy);
        # the terminal wraps what is longer than it is wide
        if not self.json_mode:
            self.out.print(secrets.mask(text), **{"soft_wrap": True, **kwargs})

    def say(self, text: str) -> None:
        """Plain text (data, not markup): brackets in it are printed as they are."""
        if not self.json_mode:
            self.out.print(_escape(secrets.mask(text)), soft_wrap=True)

    def note(self, text: str) -> None:
        """Side remarks for people; on stderr so stdout stays clean for pipes."""
        if not self.json_mode and not self.quiet:
            self.err.print(secrets.mask(text), style="dim")

    def warn(self, text: str) -> None:
        """Something worth knowing that changes no outcome: on stderr, also with -q and
        --json (stdout stays the one document)."""
        sys.stdout.flush()  # after what was printed, not inside its last line
        self.err.print(f"[yellow]warning:[/] {_escape(secrets.mask(text))}")

    def render(self, renderable: Any) -> None:
        if not self.json_mode:
            # not cropped: a name longer than the line is left whole for the terminal to wrap
            self.out.print(renderable, crop=False)

    def emit(self, document: dict[str, Any]) -> None:
        """The one JSON document a --json command prints, with its ``schema_version``."""
        if self.json_mode:
            text = json.dumps(secrets.mask_data(documents.stamped(document)), indent=2,
                              default=str)
            sys.stdout.write(text + "\n")

    def progress(self, text: str) -> None:
        """What a run is doing now (stage by stage); silenced by -q."""
        if not self.quiet:
            self.say(text)

    def waits(self, header: str | None = None) -> WaitDisplay:
        """The display of the engine's waits, on stderr (also with --json: stdout stays one
        document): live lines on a terminal, a line per change elsewhere, nothing with -q.
        ``header``: a status line kept on a terminal while the display is open."""
        from phasegate.cli import waits

        self.close_waits()
        self._display = waits.WaitDisplay(
            self.err, live=self.err.is_interactive, quiet=self.quiet,
            header=secrets.mask(header) if header is not None and not self.json_mode else None,
            redirect_stdout=sys.stdout.isatty() and not self.json_mode)
        return self._display

    def close_waits(self) -> None:
        if self._display is not None:
            self._display.close()

    def abort(self, error: BaseException, code: int = exit_codes.BAD_INPUT) -> NoReturn:
        """Leave with one paragraph, never a traceback."""
        self.close_waits()  # the live lines go before the one paragraph comes
        message = secrets.mask(str(error)) or type(error).__name__
        if self.json_mode:
            kind = type(error).__name__
            said = {"type": kind, "message": message, "exit_code": code}
            sys.stdout.write(json.dumps(documents.stamped({"error": said})) + "\n")
        else:
            self.err.print(f"[bold red]error:[/] {_escape(message)}")
        raise SystemExit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
