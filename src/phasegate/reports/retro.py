"""The retrospective of one run: what went well, what could have been better, how the run
kept to its plan, metrics, recommendations from failure signatures, and follow-up actions.

Everything is computed from the recorded run (and, for plan alignment and time budgets,
the plan file it ran). ``collect`` gives plain data (the JSON form); ``markdown`` renders it.
Time budgets come from ``--budget STAGE=DURATION`` or the plan's metadata labels
``budget.<stage>`` / ``budget.total`` (e.g. ``budget.I: 10m``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.observation import Observation
from phasegate.reports import clock, patterns, signatures
from phasegate.store import checks, records
from phasegate.store.records import RunBundle, StepRecord

PLAN_COMMANDS = ("run", "apply", "check", "validate", "tracer", "plan")
EXCERPT = 400


@dataclass(frozen=True)
class PlanFacts:
    """What the plan file says today (for alignment and budgets)."""

    name: str
    phases: tuple[str, ...]
    tracers: tuple[str, ...]
    content_hash: str
    budgets: dict[str, float]
    problem: str = ""  # why the plan could not be read, when it could not
    note: str = ""  # how it was read, when not fully


def plan_facts(bundle: RunBundle) -> PlanFacts | None:
    """The plan a run ran, read again from its file; None for runs of no plan.

    With the inputs the run recorded, the plan is loaded and its hash compared; when they
    were not recorded (``check`` runs), phases, tracers and labels are read as written."""
    from phasegate.errors import PhasegateError
    from phasegate.plan.loader import load_plan

    run = bundle.run
    if not run.plan_path or run.command not in (*PLAN_COMMANDS, "resume"):
        return None
    try:
        plan = load_plan(run.plan_path, run.meta.get("inputs") or {})
    except PhasegateError as exc:
        return _plan_as_written(Path(run.plan_path), run.plan_name or "", str(exc))
    labels = dict(plan.metadata.labels)
    return PlanFacts(plan.metadata.name, tuple(p.name for p in plan.phases),
                     tuple(t.name for t in plan.tracers), plan.content_hash, _budgets(labels))


def _plan_as_written(path: Path, name: str, problem: str) -> PlanFacts:
    from phasegate.errors import PhasegateError
    from phasegate.plan import yamltext

    try:
        tree = yamltext.plain(yamltext.parse(path.read_text(encoding="utf-8"), str(path)))
    except (OSError, UnicodeDecodeError, PhasegateError):
        return PlanFacts(name, (), (), "", {}, f"cannot read the plan: {problem}")
    if not isinstance(tree, dict):
        return PlanFacts(name, (), (), "", {}, f"cannot read the plan: {problem}")

    def names(key: str) -> tuple[str, ...]:
        items: Any = tree.get(key)
        items = items if isinstance(items, list) else []
        return tuple(str(i["name"]) for i in items if isinstance(i, dict) and "name" in i)

    metadata: dict[str, Any] = tree.get("metadata") or {}
    labels: Any = metadata.get("labels") if isinstance(metadata, dict) else None
    labels = labels if isinstance(labels, dict) else {}
    metadata = metadata if isinstance(metadata, dict) else {}
    return PlanFacts(str(metadata.get("name") or name), names("phases"), names("tracers"), "",
                     _budgets({str(k): str(v) for k, v in labels.items()}),
                     note="read as written (the run did not record its inputs): the plan "
                          "hash is not compared")


def _budgets(labels: Mapping[str, str]) -> dict[str, float]:
    from phasegate.durations import parse_duration

    budgets: dict[str, float] = {}
    for key, value in labels.items():
        if key.startswith("budget."):
            try:
                budgets[key.removeprefix("budget.")] = parse_duration(value)
            except ValueError:
                continue
    return budgets


def collect(bundle: RunBundle, plan: PlanFacts | None = None,
            budgets: Mapping[str, float] | None = None) -> dict[str, Any]:
    run = bundle.run
    steps = bundle.steps
    gates = [s for s in steps if s.observations]
    first_time = _first_time(steps)
    failures = _failures(steps)
    lost = _time_lost(steps)
    retries = _retries(steps)
    all_budgets = {**(plan.budgets if plan else {}), **(budgets or {})}
    per_stage = _per_stage(steps, all_budgets, run)
    green = next((s for s in steps if s.observations and s.status == "passed" and s.finished),
                 None)
    recommendations = _recommendations(failures)
    facts: dict[str, Any] = {
        "run": {"id": run.id, "command": run.command, "plan": run.plan_name,
                "status": run.status, "started": run.started.isoformat(),
                "finished": run.finished.isoformat() if run.finished else None,
                "duration": _seconds(run.started, run.finished), "summary": run.summary},
        "went_well": [{"stage": s.stage, "step": s.name, "checks": _check_names(s),
                       "duration": _seconds(s.started, s.finished)} for s in first_time],
        "failures": failures,
        "retries": retries,
        "time_lost": lost,
        "alignment": _alignment(bundle, plan),
        "metrics": {
            "duration": _seconds(run.started, run.finished),
            "time_to_first_green_gate": _seconds(run.started, green.finished) if green else None,
            "gates": len(gates),
            "gates_passed": sum(1 for s in gates if s.status == "passed"),
            "gates_failed": sum(1 for s in gates if s.status != "passed"),
            "gates_passed_first_time": len(first_time),
            "rollbacks": sum(1 for s in steps if s.kind == records.ROLLBACK),
            "retries": sum(r["attempts"] - 1 for r in retries),
            "observations": sum(len(s.observations) for s in steps),
            "time_lost": round(sum(item["lost"] for item in lost), 3),
            "stages": per_stage,
        },
        "recommendations": recommendations,
        "timeline": [{"stage": s.stage, "step": s.name, "status": s.status,
                      "started": s.started.isoformat(),
                      "duration": _seconds(s.started, s.finished), "detail": s.detail}
                     for s in steps],
    }
    facts["follow_up"] = _follow_up(facts, bundle)
    return facts


def _key(step: StepRecord) -> tuple[str, str]:
    return (step.stage, step.name)


def _first_time(steps: tuple[StepRecord, ...]) -> list[StepRecord]:
    """Gates that passed without failing before (waiting attempts are not failures)."""
    failed_before: set[tuple[str, str]] = set()
    found = []
    for step in steps:
        if step.observations and step.status == "passed" and _key(step) not in failed_before:
            found.append(step)
        if step.status != "passed":
            failed_before.add(_key(step))
    return found


def _finals(step: StepRecord) -> list[tuple[Observation, int]]:
    """The last attempt of each check in a step, with how many attempts it took; a check cut
    short by another one failing fast is left out (its last answer is progress, no cause)."""
    return [(c.last, len(c.attempts)) for c in checks.of(step.observations) if not c.stopped]


def _failures(steps: tuple[StepRecord, ...]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for step in steps:
        if step.status in ("passed", "running", "attested", "blocked"):
            continue
        failed = [(o, n) for o, n in _finals(step) if not o.passed]
        for observation, attempts in failed:
            signature = patterns.classify(observation.probe, observation.observed,
                                          step.status)
            found.append({
                "stage": step.stage, "step": step.name, "check": observation.name,
                "probe": observation.probe, "expected": observation.expected,
                "observed": observation.observed, "evidence": _excerpt(observation.detail),
                "attempts": attempts, "at": observation.finished.isoformat(),
                "signature": signature.key, "reason": signature.reason})
        if not failed and step.status in ("failed", "error", "refused", "timed out",
                                          "needs attestation"):
            kind = signatures.step_kind(step.stage, step.kind)
            signature = signatures.classify(kind, step.detail)
            found.append({
                "stage": step.stage, "step": step.name, "check": None, "probe": None,
                "expected": "", "observed": step.detail, "evidence": "", "attempts": 1,
                "at": (step.finished or step.started).isoformat(),
                "signature": signature.key, "reason": signature.reason})
    return found


def _retries(steps: tuple[StepRecord, ...]) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        for check in checks.of(step.observations):
            first, last = check.first, check.last
            if len(check.attempts) > 1:
                found.append({"stage": step.stage, "step": step.name, "check": last.name,
                              "attempts": len(check.attempts), "passed": last.passed,
                              "waited": round((last.finished - first.started).total_seconds(),
                                              3),
                              "first_observed": first.observed, "last_observed": last.observed})
    return found


def _time_lost(steps: tuple[StepRecord, ...]) -> list[dict[str, Any]]:
    """From the first failure of a check (or a step) to the first time it passed after."""
    open_failures: dict[tuple[str, str, str], tuple[Any, str]] = {}
    found = []
    for step in steps:
        judged = [c for c in checks.of(step.observations) if not c.stopped]
        outcomes: list[tuple[str, str, bool, Any, str]] = [
            (key, c.last.name, c.last.passed, c.last.finished, c.last.observed)
            for key, c in zip(checks.keys(judged), judged, strict=True)]
        if not step.observations and step.status not in ("running",):
            outcomes = [("", "", step.status == "passed", step.finished or step.started,
                         step.detail)]
        for check_key, name, passed, at, observed in outcomes:
            key = (step.stage, step.name, check_key)
            if not passed:
                open_failures.setdefault(key, (at, observed))
            elif key in open_failures:
                failed_at, observed_then = open_failures.pop(key)
                found.append({"stage": step.stage, "step": step.name, "check": name or None,
                              "failed": failed_at.isoformat(), "fixed": at.isoformat(),
                              "lost": round((at - failed_at).total_seconds(), 3),
                              "observed": observed_then})
    return found


def _per_stage(steps: tuple[StepRecord, ...], budgets: Mapping[str, float],
               run: Any) -> list[dict[str, Any]]:
    totals: dict[str, float] = {}
    for step in steps:
        if step.finished:
            totals[step.stage] = totals.get(step.stage, 0.0) + (
                step.finished - step.started).total_seconds()
    rows = [{"stage": stage, "duration": round(seconds, 3), "budget": budgets.get(stage),
             "over": budgets.get(stage) is not None and seconds > budgets[stage]}
            for stage, seconds in totals.items()]
    total = _seconds(run.started, run.finished)
    if "total" in budgets and total is not None:
        rows.append({"stage": "total", "duration": total, "budget": budgets["total"],
                     "over": total > budgets["total"]})
    return rows


def _alignment(bundle: RunBundle, plan: PlanFacts | None) -> dict[str, Any]:
    run = bundle.run
    if plan is None:
        return {"applies": False, "note": f"a `{run.command}` run follows no plan"}
    executed: dict[str, dict[str, Any]] = {}
    tracers: dict[str, str] = {}
    for step in bundle.steps:
        if step.stage == "I" and step.phase is not None:
            entry = executed.setdefault(step.phase, {"phase": step.phase,
                                                     "index": step.phase_index,
                                                     "status": "applied"})
            if step.kind == records.GATE:
                entry["status"] = "passed" if step.status == "passed" else f"gate {step.status}"
            elif step.kind == records.ROLLBACK:
                entry["status"] = "rolled back" if step.status == "passed" else \
                    "rollback failed"
            elif step.status != "passed":
                entry["status"] = f"apply {step.status}"
        if step.stage == "0" and step.tracer is not None and step.kind == records.GATE:
            tracers[step.tracer] = step.status
    stages = list(dict.fromkeys(s.stage for s in bundle.steps))
    wanted = list(run.meta.get("stages") or [])
    drift: list[str] = []
    if plan.problem:
        drift.append(plan.problem)
    elif run.plan_hash and plan.content_hash and run.plan_hash != plan.content_hash:
        drift.append(f"the plan changed since the run (hash {run.plan_hash[:12]} → "
                     f"{plan.content_hash[:12]}): this compares with the plan as it is now")
    ran_phases = "I" in stages
    rows = []
    for index, name in enumerate(plan.phases, start=1):
        status = executed.get(name, {}).get("status", "not run")
        rows.append({"phase": name, "planned": index, "status": status})
        if status == "not run" and ran_phases:
            drift.append(f"phase {index} ({name}) was planned but not run")
    for name, entry in executed.items():
        if name not in plan.phases:
            drift.append(f"phase {name} ran but is not in the plan (renamed or removed)")
            rows.append({"phase": name, "planned": None, "status": entry["status"]})
        elif entry["index"] != plan.phases.index(name) + 1:
            drift.append(f"phase {name} ran as phase {entry['index']}, planned as "
                         f"{plan.phases.index(name) + 1}")
    for name in plan.tracers:
        if "0" in stages and name not in tracers:
            drift.append(f"tracer {name} was planned but not fired")
    return {"applies": True, "plan": plan.name, "note": plan.note, "stages_planned": wanted,
            "stages_run": stages, "phases": rows,
            "tracers": [{"tracer": n, "status": tracers.get(n, "not run")}
                        for n in plan.tracers],
            "drift": drift}


def _recommendations(failures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for failure in failures:
        for text in (failure["observed"], failure["evidence"]):  # what was seen, then output
            known = signatures.classify(failure["probe"] or "step", str(text or "")).known
            if known is not None:
                if known.key not in found:
                    found[known.key] = {"signature": known.key, "text": known.recommendation,
                                        "evidence": f"{failure['step']}: {failure['observed']}"}
                break
    return list(found.values())


def _follow_up(facts: dict[str, Any], bundle: RunBundle) -> list[str]:
    actions = []
    fixed = {(item["step"], item["check"]) for item in facts["time_lost"]}
    resumable = bundle.run.command in ("run", "apply") and bundle.run.status != "passed"
    for failure in facts["failures"]:
        if (failure["step"], failure["check"]) in fixed:
            continue
        what = f"`{failure['check']}`" if failure["check"] else failure["step"]
        actions.append(f"Fix {what} ({failure['stage']} · {failure['step']}): "
                       f"{failure['observed']}")
    if resumable and facts["failures"]:
        actions.append(f"Then continue with `phasegate resume {bundle.run.id}`.")
    actions += [item["text"] for item in facts["recommendations"]]
    for row in facts["metrics"]["stages"]:
        if row["over"]:
            actions.append(f"Stage {row['stage']} took {clock.span(row['duration'])} against "
                           f"a budget of {clock.span(row['budget'])}: find the slow step in "
                           "the timeline, or raise the budget knowingly.")
    for drift in facts["alignment"].get("drift", []):
        actions.append(f"Reconcile the plan with what ran: {drift}.")
    return actions


def markdown(facts: dict[str, Any], name: str | None = None) -> str:
    run = facts["run"]
    m = facts["metrics"]
    title = name or run["plan"] or run["command"]
    lines = [f"# Retrospective — {title}", "",
             f"Run `{run['id']}` (`{run['command']}`): **{run['status']}**, "
             f"{clock.span(run['duration'])}.", ""]
    if run["summary"]:
        lines += [run["summary"], ""]
    lines += ["## What went well", ""]
    lines += [f"- {w['stage']} · {w['step']}: passed first time ({len(w['checks'])} check"
              f"{'s' if len(w['checks']) != 1 else ''}, {clock.span(w['duration'])})"
              for w in facts["went_well"]] or ["- no gate passed first time"]
    lines += ["", "## What could have been better", "", "### Failures", ""]
    for failure in facts["failures"]:
        head = f"`{failure['check']}` " if failure["check"] else ""
        expected = f"expected {failure['expected']}, " if failure["expected"] else ""
        lines.append(f"- {failure['stage']} · {failure['step']}: {head}{expected}observed "
                     f"{_one_line(failure['observed'])}")
        if failure["evidence"]:
            fence = "~~~~" if "```" in failure["evidence"] else "```"
            lines += ["", f"  {fence}text", *[f"  {line}" for line in
                                             failure["evidence"].splitlines()], f"  {fence}", ""]
    if not facts["failures"]:
        lines.append("- nothing failed")
    lines += ["", "### Retries", ""]
    lines += [f"- {r['step']} · `{r['check']}`: {r['attempts']} attempts over "
              f"{clock.span(r['waited'])} ({'passed' if r['passed'] else 'still failing'}; "
              f"first: {_one_line(r['first_observed'])})" for r in facts["retries"]] or [
        "- none: every check answered at its first attempt"]
    lines += ["", "### Time lost between a failure and its fix", ""]
    lines += [f"- {t['step']}{' · `' + t['check'] + '`' if t['check'] else ''}: failed "
              f"{clock.stamp(_dt(t['failed']), True)}, passed "
              f"{clock.stamp(_dt(t['fixed']), True)} — {clock.span(t['lost'])} lost "
              f"({_one_line(t['observed'])})" for t in facts["time_lost"]] or [
        "- none recorded: no failure was fixed within this run"]
    lines += ["", "## Plan alignment", ""]
    alignment = facts["alignment"]
    if not alignment["applies"]:
        lines.append(f"- {alignment['note']}")
    else:
        lines.append(f"- stages run: {', '.join(alignment['stages_run']) or 'none'}"
                     + (f" (asked: {', '.join(alignment['stages_planned'])})"
                        if alignment["stages_planned"] else ""))
        if alignment["phases"]:
            lines += ["", "| phase | planned as | outcome |", "|---|---|---|"]
            lines += [f"| {row['phase']} | {row['planned'] or '—'} | {row['status']} |"
                      for row in alignment["phases"]]
            lines.append("")
        lines += [f"- drift: {d}" for d in alignment["drift"]] or [
            "- no drift: what ran is what the plan says"]
        if alignment["note"]:
            lines.append(f"- note: the plan was {alignment['note']}")
    lines += ["", "## Metrics", "",
              f"- duration: {clock.span(m['duration'])}",
              f"- time to first green gate: {clock.span(m['time_to_first_green_gate'])}",
              f"- gates: {m['gates']} ({m['gates_passed']} passed, {m['gates_failed']} failed, "
              f"{m['gates_passed_first_time']} passed first time)",
              f"- gates failed: {m['gates_failed']}",
              f"- rollbacks: {m['rollbacks']}",
              f"- observations: {m['observations']} ({m['retries']} were retries while a "
              "gate waited)",
              f"- time lost between failures and fixes: {clock.span(m['time_lost'])}"]
    if m["stages"]:
        lines += ["", "| stage | took | budget | |", "|---|---|---|---|"]
        for row in m["stages"]:
            budget = clock.span(row["budget"]) if row["budget"] is not None else "—"
            flag = "over budget" if row["over"] else ("within" if row["budget"] else "")
            lines.append(f"| {row['stage']} | {clock.span(row['duration'])} | {budget} | "
                         f"{flag} |")
    lines += ["", "## Timeline", "", "| stage | step | status | took |", "|---|---|---|---|"]
    lines += [f"| {t['stage']} | {_cell(t['step'])} | {t['status']} | "
              f"{clock.span(t['duration'])} |" for t in facts["timeline"]]
    lines += ["", "## Recommendations", ""]
    lines += [f"- {r['text']} (seen: {_one_line(r['evidence'])})"
              for r in facts["recommendations"]] or [
        "- none: no failure signature recognised"]
    lines += ["", "## Follow-up actions", ""]
    lines += [f"- [ ] {action}" for action in facts["follow_up"]] or ["- none"]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def write(bundle: RunBundle, directory: Path, name: str,
          budgets: Mapping[str, float] | None = None) -> Path:
    """Write ``<name>-retrospective.md`` for a run into ``directory``."""
    facts = collect(bundle, plan_facts(bundle), budgets)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-retrospective.md"
    path.write_text(markdown(facts, name), encoding="utf-8")
    return path


def _check_names(step: StepRecord) -> list[str]:
    return list(dict.fromkeys(o.name for o in step.observations))


def _seconds(start: Any, end: Any) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def _excerpt(text: str) -> str:
    text = text.strip()
    if len(text) <= EXCERPT:
        return text
    return text[: EXCERPT // 2] + "\n…\n" + text[-EXCERPT // 2:]


def _one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= 200 else flat[:199] + "…"


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _dt(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)
