"""The facts of a run, as plain data: the single source every report format renders."""

from __future__ import annotations

from typing import Any

from phasegate import secrets
from phasegate.observation import Observation
from phasegate.store import checks
from phasegate.store.records import RunBundle, StepRecord

EXCERPT = 600


def collect(bundle: RunBundle) -> dict[str, Any]:
    run = bundle.run
    steps = [_step(step) for step in bundle.steps]
    checks = [check for step in steps for check in step["checks"]]
    return {
        "run": {
            "id": run.id,
            "command": run.command,
            "plan": run.plan_name,
            "plan_path": run.plan_path,
            "plan_hash": run.plan_hash,
            "status": run.status,
            "started": run.started.isoformat(),
            "finished": run.finished.isoformat() if run.finished else None,
            "duration": _seconds(run.started, run.finished),
            "summary": run.summary,
            "cluster": run.meta.get("cluster"),
        },
        "totals": {
            "checks": len(checks),
            "passed": sum(1 for c in checks if c["passed"]),
            "failed": sum(1 for c in checks if not c["passed"]),
            "attempts": sum(c["attempts"] for c in checks),
        },
        "steps": steps,
        "artifacts": [
            {"name": a.name, "media_type": a.media_type, "content": a.content}
            for a in bundle.artifacts
        ],
    }


def _step(step: StepRecord) -> dict[str, Any]:
    return {
        "stage": step.stage,
        "name": step.name,
        "kind": step.kind,
        "phase": step.phase,
        "phase_index": step.phase_index,
        "tracer": step.tracer,
        "status": step.status,
        "started": step.started.isoformat(),
        "finished": step.finished.isoformat() if step.finished else None,
        "duration": _seconds(step.started, step.finished),
        "timeout": step.timeout,
        "detail": step.detail,
        "checks": _checks(step.observations),
    }


def _checks(observations: tuple[Observation, ...]) -> list[dict[str, Any]]:
    """One check per probe: its last attempt decides, earlier attempts are kept as history."""
    found = []
    for check in checks.of(observations):
        first, last = check.first, check.last
        found.append(
            {
                "probe": last.probe,
                "name": last.name,
                "params": last.params,
                "passed": last.passed,
                "error": last.error,
                "fail_fast": last.fail_fast,
                "stopped": check.stopped,
                "expected": last.expected,
                "observed": last.observed,
                "data": secrets.mask_data(last.data),
                "output": _excerpt(last.detail),
                "started": first.started.isoformat(),
                "finished": last.finished.isoformat(),
                "duration": round((last.finished - first.started).total_seconds(), 3),
                "attempts": len(check.attempts),
                "history": [
                    {"attempt": o.attempt, "passed": o.passed, "observed": o.observed,
                     "at": o.finished.isoformat()}
                    for o in check.attempts
                ],
            }
        )
    return found


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT:
        return text
    return text[: EXCERPT // 2] + "\n…\n" + text[-EXCERPT // 2 :]


def _seconds(start: Any, end: Any) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None
