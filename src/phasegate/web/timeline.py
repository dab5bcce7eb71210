"""A run's timeline: its steps by stage, each with its checks and their attempts, placed on
one time axis (offsets and lengths relative to the run), from the facts every report
renders (``reports.facts``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from phasegate.reports import clock

STAGES = {"R": "R · reality check", "0": "0 · tracer bullets", "P": "P · plan",
          "I": "I · implementation", "V": "V · validation", "task": "task criteria",
          "probes": "probes"}
WIDTH = 1000  # the SVG axis: bars are drawn in thousandths of the run


def build(facts: dict[str, Any], now: datetime) -> dict[str, Any]:
    run = facts["run"]
    start = datetime.fromisoformat(run["started"])
    end = datetime.fromisoformat(run["finished"]) if run["finished"] else now
    total = max((end - start).total_seconds(), 0.001)

    def bar(started: str, finished: str | None) -> dict[str, Any]:
        begin = datetime.fromisoformat(started)
        stop = datetime.fromisoformat(finished) if finished else now
        offset = max((begin - start).total_seconds(), 0.0)
        length = max((stop - begin).total_seconds(), 0.0)
        return {"x": round(WIDTH * min(offset / total, 1.0), 1),
                "width": round(max(WIDTH * length / total, 2.0), 1),
                "offset": clock.span(offset), "duration": clock.span(length)}

    stages: list[dict[str, Any]] = []
    for step in facts["steps"]:
        if not stages or stages[-1]["stage"] != step["stage"]:
            stages.append({"stage": step["stage"],
                           "title": STAGES.get(step["stage"], step["stage"]), "steps": []})
        checks = [{"name": c["name"], "probe": c["probe"], "passed": c["passed"],
                   "error": c["error"], "stopped": c["stopped"], "attempts": c["attempts"],
                   "observed": c["observed"], **bar(c["started"], c["finished"])}
                  for c in step["checks"]]
        stages[-1]["steps"].append({
            "name": step["name"], "kind": step["kind"], "status": step["status"],
            "phase": step["phase"], "phase_index": step["phase_index"],
            "tracer": step["tracer"], "detail": step["detail"], "timeout": step["timeout"],
            "checks": checks, **bar(step["started"], step["finished"])})
    return {"stages": stages, "total": clock.span(total), "width": WIDTH,
            "running": run["status"] == "running"}
