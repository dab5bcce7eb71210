"""Running the real ``phasegate`` executable, as users and CI jobs do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PHASEGATE = str(Path(sys.executable).parent / "phasegate")


def phasegate(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PHASEGATE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def phasegate_on_a_terminal(*args: str, cwd: Path | None = None,
                            env: dict[str, str] | None = None, timeout: float = 60) -> str:
    """Run ``phasegate`` with a real pseudo-terminal as stdout and stderr, as people do;
    returns everything it wrote (escape sequences included)."""
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    with subprocess.Popen([PHASEGATE, *args], cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=follower, stderr=follower,
                          env={**os.environ, "COLUMNS": "200", "TERM": "xterm",
                               **(env or {})}) as process:
        os.close(follower)
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed: phasegate has left
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        process.wait(timeout=5)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")
