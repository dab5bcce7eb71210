"""Start, watch and stop the component processes by PID.

Processes run in their own session so that they outlive ``phasegate sandbox up`` and
are not hit by the terminal's Ctrl-C; we stop them ourselves. A PID is only signalled
when its start time still matches the one recorded, so a recycled PID is never killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    """One running component: its name, PID, kernel start time and log file."""

    name: str
    pid: int
    start_ticks: int
    log: str


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


# Children started by this Python process: polling them reaps them, which a plain
# /proc check cannot do (an exited child stays a zombie until its parent waits).
_children: dict[int, subprocess.Popen[bytes]] = {}


def alive(proc: Proc) -> bool:
    child = _children.get(proc.pid)
    if child is not None:
        return child.poll() is None
    if start_ticks(proc.pid) != proc.start_ticks:
        return False
    try:
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; its parent just has not waited yet


def spawn(name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    _children[popen.pid] = popen
    ticks = start_ticks(popen.pid)
    return Proc(name=name, pid=popen.pid, start_ticks=ticks or 0, log=str(log))


def stop(procs: list[Proc], timeout: float = 10.0) -> None:
    """Stop processes one after the other, in the order given: SIGTERM, then SIGKILL
    after ``timeout`` seconds. One at a time because stopping the API server while
    its etcd stops too makes it hang in its graceful shutdown (~10 s instead of ~1 s).
    """
    for p in procs:
        if alive(p):
            _signal(p, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while alive(p) and time.monotonic() < deadline:
                time.sleep(0.02)
            if alive(p):
                _signal(p, signal.SIGKILL)
        child = _children.pop(p.pid, None)
        if child is not None:
            child.wait()


def _signal(proc: Proc, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.kill(proc.pid, sig)


def tail(path: str | Path, lines: int = 15, width: int = 300) -> str:
    """Last ``lines`` lines of a log, each cut to ``width`` characters (some components
    print whole objects on one line)."""
    try:
        with Path(path).open(errors="replace") as f:
            last = deque(f, maxlen=lines)
    except OSError:
        return "(no log)"
    return "\n".join(
        line.rstrip()[:width] + (" ..." if len(line.rstrip()) > width else "") for line in last
    )
