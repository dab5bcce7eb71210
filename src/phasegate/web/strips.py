"""History strips: state changes over a time window, as segments on one axis (an SVG of
``WIDTH`` units), and deploy markers on the same axis."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from phasegate.reports import clock

WIDTH = 1000
DAY = timedelta(hours=24)


def segments(changes: Sequence[tuple[datetime, str]], start: datetime,
             end: datetime) -> list[dict[str, Any]]:
    """``changes`` (when, state), oldest first, the first possibly before ``start``: each
    state's stretch of the window; before the first known state, nothing is drawn."""
    total = (end - start).total_seconds()
    found = []
    for index, (at, state) in enumerate(changes):
        until = changes[index + 1][0] if index + 1 < len(changes) else end
        begin, stop = max(at, start), min(until, end)
        if stop <= begin:
            continue
        found.append({"state": state, "x": _x(begin, start, total),
                      "seconds": (stop - begin).total_seconds(),
                      "width": round(max(WIDTH * (stop - begin).total_seconds() / total, 1.0), 1),
                      "label": f"{state} from {clock.stamp(begin)} for "
                               f"{clock.span((stop - begin).total_seconds())}"})
    return found


def summary(found: Sequence[dict[str, Any]], start: datetime, end: datetime) -> str:
    """The strip in words: how much of the window was recorded, the healthy share of it, and
    each other state's count of stretches ("recorded 3.0 h of 24 h: healthy 92 %, down once")."""
    recorded = sum(s["seconds"] for s in found)
    if not recorded:
        return "nothing recorded in the last 24 h"
    healthy = sum(s["seconds"] for s in found if s["state"] in ("healthy", "passing"))
    others: dict[str, int] = {}
    for s in found:
        if s["state"] not in ("healthy", "passing"):
            others[s["state"]] = others.get(s["state"], 0) + 1
    window = clock.span((end - start).total_seconds())
    words = [f"{'passing' if any(s['state'] == 'passing' for s in found) else 'healthy'} "
             f"{100 * healthy / recorded:.0f} %"]
    words += [f"{state} {'once' if count == 1 else f'{count} times'}"
              for state, count in others.items()]
    return f"recorded {clock.span(recorded)} of {window}: " + ", ".join(words)


def markers(runs: Sequence[Any], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """A mark where each run started: its id, status and when."""
    total = (end - start).total_seconds()
    return [{"x": _x(run.started, start, total), "run": run.id, "status": run.status,
             "label": f"{run.command} {run.plan_name or ''} {run.status} at "
                      f"{clock.stamp(run.started)}"}
            for run in runs if start <= run.started <= end]


def _x(moment: datetime, start: datetime, total: float) -> float:
    return round(WIDTH * min(max((moment - start).total_seconds() / total, 0.0), 1.0), 1)
