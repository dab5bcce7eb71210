"""Running the real ``phasegate`` executable under a pseudo-terminal, as people do."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.integration.cli_helpers import PHASEGATE

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass(frozen=True)
class Screen:
    returncode: int
    raw: str  # everything written to the terminal, escapes included

    @property
    def lines(self) -> list[str]:
        """Every line drawn, once per redraw: escapes removed, carriage returns split."""
        return [line for line in re.split(r"[\r\n]+", _ESCAPES.sub("", self.raw)) if line]


def on_a_terminal(*args: str, cwd: Path, during: Callable[[str], None] | None = None,
                  timeout: float = 120, env: dict[str, str] | None = None) -> Screen:
    """Run phasegate with stdin, stdout and stderr on one pseudo-terminal of 200 columns;
    ``during`` is called with the text so far each time more arrives."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    environment = {**os.environ, "TERM": "xterm-256color", **(env or {})}
    for name in ("COLUMNS", "LINES", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        environment.pop(name, None)
    process = subprocess.Popen([PHASEGATE, *args], stdin=follower, stdout=follower,
                               stderr=follower, cwd=cwd, env=environment, close_fds=True)
    os.close(follower)
    raw = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            raw += chunk
            if during is not None:
                during(raw.decode(errors="replace"))
        else:
            raise AssertionError(f"phasegate {' '.join(args)} still running after {timeout} s")
        return Screen(process.wait(timeout=10), raw.decode(errors="replace"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
