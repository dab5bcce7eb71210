"""How waits look: a live line per waiting probe on a terminal, one line per change elsewhere.

The engine reports every wait as plain data (``engine.progress.ProbeWait``); this draws it
on stderr, so stdout keeps the results and ``--json`` its one document. On a terminal the
lines are redrawn in place (elapsed time ticks between attempts); in a pipe or a CI log a
line is written only when what a probe observes changes, never once per poll. Every text
is masked for secrets on the way out, as all the Terminal prints.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from phasegate import secrets

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from phasegate.engine.progress import ProbeWait
    from phasegate.observation import Observation

LIVE_LINES = 8  # probes drawn in the live region; the rest are counted
FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SETTLED = {"passed": "✔", "failed fast": "✘", "timed out": "✘", "stopped": "·"}


def span(seconds: float) -> str:
    """12.3s, 2m05s: short enough to tick in a status line."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def live_line(event: ProbeWait, elapsed: float) -> str:
    """A waiting probe on a terminal: what it waits for, what it sees, for how long."""
    how = {"": "", "watch": " · by watch"}.get(event.how, f" · polled {event.how}")
    return (f"{event.probe}: waiting for {event.waiting_for} · now {event.observed} · "
            f"{span(elapsed)} / {span(event.timeout)}{how}")


def change_line(event: ProbeWait) -> str:
    """A change in a log: the gate, the probe, and what is new about it."""
    where = f"[{event.gate}] " if event.gate else ""
    if event.state == "waiting":
        return (f"… {where}{event.probe}: {event.observed} (waiting for {event.waiting_for}; "
                f"{span(event.elapsed)} of {span(event.timeout)})")
    if event.state == "stopped":
        return (f"{SETTLED['stopped']} {where}{event.probe}: stopped waiting after "
                f"{span(event.elapsed)} (another probe failed fast) — {event.observed}")
    return (f"{SETTLED[event.state]} {where}{event.probe}: {event.state} after "
            f"{span(event.elapsed)} — {event.observed}")


class WaitDisplay:
    """The listener a command hands to the workflow, and the context that ends its display.

    ``live``: redraw in place (a terminal); otherwise write change lines. ``header``: a line
    shown on a terminal for as long as the display is open (with the count of observations
    made, when ``observed`` is called); without one, the live region exists only while a
    probe waits. ``quiet``: show nothing."""

    def __init__(self, console: Console, *, live: bool, quiet: bool = False,
                 header: str | None = None, redirect_stdout: bool = False) -> None:
        self._console = console
        self._live_mode = live and not quiet
        self._quiet = quiet
        self._header = header
        self._redirect_stdout = redirect_stdout
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, int], tuple[ProbeWait, float]] = {}
        self._shown: dict[tuple[str, int], str] = {}  # what a log line last said per probe
        self._count = 0
        self._live: Live | None = None

    def __call__(self, event: ProbeWait) -> None:
        if self._quiet:
            return
        if self._live_mode:
            with self._lock:
                if event.state == "waiting":
                    self._waiting[event.key] = (event, time.monotonic())
                else:
                    self._waiting.pop(event.key, None)
                idle = not self._waiting and self._header is None
            if idle:
                self._stop()
            else:
                self._start()
            return
        if event.state == "waiting":
            if self._shown.get(event.key) == event.observed:
                return  # the same as last time: a poll, not a change
            self._shown[event.key] = event.observed
        else:
            self._shown.pop(event.key, None)
        self._write(change_line(event))

    def observed(self, observation: Observation) -> None:
        """Count an observation (called from the store's writer thread)."""
        self._count += 1

    def __enter__(self) -> WaitDisplay:
        if self._live_mode and self._header is not None:
            self._start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop()

    def __rich__(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        now = time.monotonic()
        frame = FRAMES[int(now * 10) % len(FRAMES)]
        with self._lock:
            waiting = list(self._waiting.values())
        lines: list[Text] = []
        if self._header is not None:
            counted = f" {self._count} observed" if self._count else ""
            lines.append(_text(f"{frame} {self._header}{counted}"))
        gate = None
        for event, received in waiting[:LIVE_LINES]:
            if event.gate != gate:
                gate = event.gate
                lines.append(_text(gate, style="dim"))
            elapsed = event.elapsed + (now - received)
            lines.append(_text(f"  {frame} {live_line(event, elapsed)}"))
        if len(waiting) > LIVE_LINES:
            lines.append(_text(f"  … and {len(waiting) - LIVE_LINES} more waiting", style="dim"))
        return Group(*lines)

    def _start(self) -> None:
        if self._live is not None:
            return
        from rich.live import Live

        self._live = Live(self, console=self._console, refresh_per_second=8, transient=True,
                          redirect_stdout=self._redirect_stdout, redirect_stderr=True)
        self._live.start()

    def _stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def _write(self, line: str) -> None:
        from rich.markup import escape

        self._console.print(escape(secrets.mask(line)), soft_wrap=True, highlight=False)


def _text(line: str, style: str = "") -> Any:
    from rich.text import Text

    return Text(secrets.mask(line), style=style, no_wrap=True, overflow="ellipsis")
