"""History strips: a day of state changes laid on one axis, and said in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phasegate.web import strips

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
START = NOW - strips.DAY


def test_a_state_before_the_window_starts_it_and_each_change_takes_its_stretch() -> None:
    changes = [(NOW - timedelta(hours=30), "healthy"), (NOW - timedelta(hours=6), "down"),
               (NOW - timedelta(hours=3), "healthy")]
    found = strips.segments(changes, START, NOW)
    assert [(s["state"], s["x"], s["width"]) for s in found] == [
        ("healthy", 0.0, 750.0), ("down", 750.0, 125.0), ("healthy", 875.0, 125.0)]
    assert strips.summary(found, START, NOW) == "recorded 24 h of 24 h: healthy 88 %, down once"


def test_nothing_is_drawn_before_the_first_record() -> None:
    found = strips.segments([(NOW - timedelta(hours=12), "degraded")], START, NOW)
    assert [(s["x"], s["width"]) for s in found] == [(500.0, 500.0)]
    assert strips.segments([], START, NOW) == []
    assert strips.summary([], START, NOW) == "nothing recorded in the last 24 h"


def test_deploy_markers_sit_where_runs_started_inside_the_window() -> None:
    class Run:
        def __init__(self, hours: float) -> None:
            self.id, self.command, self.plan_name, self.status = "r", "run", "shop", "passed"
            self.started = NOW - timedelta(hours=hours)

    found = strips.markers([Run(12), Run(30)], START, NOW)
    assert [m["x"] for m in found] == [500.0]
