"""The session report: what was done between two times, from what was recorded.

Runs (plan stages, probes, task verifications, attestations, starts and completions) come
from the evidence store; the tasks directory adds what is blocked, what comes next and the
backlog's state (passed in as plain data, see :func:`phasegate.tasks.snapshot.take`).
``collect`` gives the JSON form; ``markdown`` renders it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from phasegate.reports import clock, patterns, signatures
from phasegate.store import checks, records
from phasegate.store.records import RunBundle, StepRecord

VERIFY = "tasks verify"
ATTEST = "tasks attest"
START = "tasks start"
COMPLETE = "tasks complete"
BLOCKED = "blocked"
TASK_COMMANDS = (VERIFY, ATTEST, START, COMPLETE)
NEXT = 5


def collect(bundles: Sequence[RunBundle], since: datetime, until: datetime,
            tasks: dict[str, Any] | None = None) -> dict[str, Any]:
    bundles = sorted(bundles, key=lambda b: (b.run.started, b.run.id))
    processed = _tasks_processed(bundles)
    verifications = [_verification(b) for b in bundles if b.run.command == VERIFY]
    issues = _issues(bundles)
    metrics = _metrics(bundles, processed)
    facts: dict[str, Any] = {
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "tasks_processed": processed,
        "verifications": verifications,
        "timeline": _timeline(bundles),
        "metrics": metrics,
        "critical_issues": issues,
        "recommendations": _recommendations(issues),
        "blocked": (tasks or {}).get("blocked", []),
        "next": (tasks or {}).get("queue", [])[:NEXT],
        "backlog": (tasks or {}).get("tasks", []),
        "tasks_directory": (tasks or {}).get("directory"),
    }
    facts["summary"] = _summary(facts)
    return facts


def _subject(bundle: RunBundle) -> str:
    run = bundle.run
    if run.command in TASK_COMMANDS:
        return run.plan_name or "?"
    return run.plan_name or run.command


def _tasks_processed(bundles: Sequence[RunBundle]) -> list[dict[str, Any]]:
    by_task: dict[str, dict[str, Any]] = {}
    for bundle in bundles:
        run = bundle.run
        if run.command not in TASK_COMMANDS or not run.plan_name:
            continue
        entry = by_task.setdefault(run.plan_name, {
            "id": run.plan_name, "title": run.meta.get("title") or "", "events": [],
            "outcome": "", "tally": None})
        if run.meta.get("title"):
            entry["title"] = run.meta["title"]
        word = run.command.split()[-1]
        entry["events"].append({"at": run.started.isoformat(), "command": run.command,
                                "status": run.status, "summary": run.summary,
                                "run_id": run.id})
        if run.command == VERIFY and run.meta.get("tally"):
            entry["tally"] = run.meta["tally"]
            entry["outcome"] = f"verified: {run.summary}"
        elif run.command == COMPLETE:
            entry["outcome"] = "completed" if run.status == "passed" else \
                f"completion refused: {run.summary}"
        elif run.command == START:
            entry["outcome"] = entry["outcome"] or (
                "started" if run.status == "passed" else f"start refused: {run.summary}")
        elif run.command == ATTEST and not entry["outcome"]:
            entry["outcome"] = f"{word}ed: {run.summary}"
    for entry in by_task.values():
        completed = any(e["command"] == COMPLETE and e["status"] == "passed"
                        for e in entry["events"])
        if completed:
            entry["outcome"] = "completed"
    return list(by_task.values())


def _verification(bundle: RunBundle) -> dict[str, Any]:
    run = bundle.run
    criteria = []
    by_step = {s.name: s for s in bundle.steps}
    for item in run.meta.get("criteria") or []:
        step = by_step.get(_step_name(item))
        evidence = ""
        if step is not None and step.observations:
            last = step.observations[-1]
            evidence = last.name if last.name.startswith(last.probe) else \
                f"{last.probe}: {last.name}"
        criteria.append({**item, "evidence": evidence})
    return {"run_id": run.id, "task": run.plan_name, "title": run.meta.get("title") or "",
            "at": run.started.isoformat(), "status": run.status, "summary": run.summary,
            "criteria": criteria}


def _step_name(item: dict[str, Any]) -> str:
    name = f"criterion {item.get('n')}: {item.get('text')}"
    return name if len(name) <= 250 else name[:249] + "…"


def _timeline(bundles: Sequence[RunBundle]) -> list[dict[str, Any]]:
    events = []
    for bundle in bundles:
        run = bundle.run
        events.append({"at": run.started.isoformat(), "run_id": run.id, "command": run.command,
                       "subject": _subject(bundle), "status": run.status,
                       "duration": _seconds(run.started, run.finished),
                       "summary": run.summary})
    return events


def _gate_steps(bundle: RunBundle) -> list[StepRecord]:
    """Steps that evaluated a gate; a criterion blocked by another task was not judged."""
    return [s for s in bundle.steps if s.observations and s.status != BLOCKED]


def _first_time(bundles: Sequence[RunBundle]) -> int:
    """Gates that passed without having failed before in the window (same subject and
    step): a criterion failing at 10:02 and passing at 10:40 did not pass first time."""
    failed_before: set[tuple[str, str, str]] = set()
    count = 0
    for bundle in bundles:
        subject = _subject(bundle)
        for step in bundle.steps:
            key = (subject, step.stage, step.name)
            if step.observations and step.status == "passed" and key not in failed_before:
                count += 1
            if step.observations and step.status not in ("passed", BLOCKED):
                failed_before.add(key)
    return count


def _metrics(bundles: Sequence[RunBundle], processed: list[dict[str, Any]]) -> dict[str, Any]:
    stages: dict[str, float] = {}
    for bundle in bundles:
        for step in bundle.steps:
            if step.finished:
                stages[step.stage] = stages.get(step.stage, 0.0) + (
                    step.finished - step.started).total_seconds()
    tallies = [p["tally"] for p in processed if p["tally"]]
    attested_now = _attested_since_last_verify(bundles)
    gates = [s for b in bundles for s in _gate_steps(b)]
    return {
        "runs": len(bundles),
        "runs_by_command": dict(Counter(b.run.command for b in bundles)),
        "criteria_total": sum(t["total"] for t in tallies),
        "criteria_verified": sum(t["verified"] for t in tallies),
        "criteria_attested": sum(t["attested"] for t in tallies) + attested_now,
        "criteria_failing": sum(t["failing"] for t in tallies),
        "criteria_blocked": sum(t.get("blocked", 0) for t in tallies),
        "tasks_processed": len(processed),
        "tasks_completed": sum(1 for p in processed if p["outcome"] == "completed"),
        "completions_refused": sum(1 for b in bundles if b.run.command == COMPLETE
                                   and b.run.status == "refused"),
        "gates": len(gates),
        "gates_passed": sum(1 for s in gates if s.status == "passed"),
        "gates_passed_first_time": _first_time(bundles),
        "gates_failed": sum(1 for s in gates if s.status != "passed"),
        "rollbacks": sum(1 for b in bundles for s in b.steps if s.kind == records.ROLLBACK),
        "time_per_stage": {stage: round(seconds, 3) for stage, seconds in stages.items()},
    }


def _attested_since_last_verify(bundles: Sequence[RunBundle]) -> int:
    """Attestations newer than their task's last verification (not in its tally yet)."""
    last_verify: dict[str, datetime] = {}
    for bundle in bundles:
        if bundle.run.command == VERIFY and bundle.run.plan_name:
            last_verify[bundle.run.plan_name] = bundle.run.started
    keys = set()
    for bundle in bundles:
        run = bundle.run
        if run.command == ATTEST and run.plan_name in last_verify and \
                run.started > last_verify[run.plan_name]:
            keys.add((run.plan_name, run.meta.get("key")))
    return len(keys)


def _issues(bundles: Sequence[RunBundle]) -> list[dict[str, Any]]:
    """Each distinct failure, its evidence, and when and how it was resolved (if it was).

    An issue open across runs tells its latest cause (what is wrong now); the causes seen
    before are kept in order as its history.
    """
    open_issues: dict[tuple[str, str, str], dict[str, Any]] = {}
    found: list[dict[str, Any]] = []
    for bundle in bundles:
        run = bundle.run
        if run.command in (START, COMPLETE, ATTEST):
            continue
        subject = _subject(bundle)
        for step in bundle.steps:
            for outcome in _outcomes(step):
                key = (subject, step.name, outcome.key)
                if not outcome.passed:
                    issue = open_issues.get(key)
                    if issue is None:
                        issue = {"subject": subject, "step": step.name,
                                 "check": outcome.name or None, "first_seen": outcome.at,
                                 "run_id": run.id, "command": run.command,
                                 "first_observed": outcome.observed, "history": [],
                                 "resolved": None, "resolved_by": None, "time_to_fix": None,
                                 "recurrences": -1}
                        open_issues[key] = issue
                        found.append(issue)
                    _seen(issue, outcome, step, run.id)
                elif key in open_issues:
                    issue = open_issues.pop(key)
                    issue["resolved"] = outcome.at.isoformat()
                    issue["resolved_by"] = f"{run.command} run {run.id}"
                    issue["time_to_fix"] = round(
                        (outcome.at - issue["first_seen"]).total_seconds(), 3)
    for issue in found:
        issue["first_seen"] = issue["first_seen"].isoformat()
    return found


def _seen(issue: dict[str, Any], outcome: _Outcome, step: StepRecord, run_id: str) -> None:
    """Make ``outcome`` the issue's current cause; a changed cause goes into its history."""
    issue["recurrences"] += 1
    if not issue["history"] or issue["history"][-1]["observed"] != outcome.observed:
        issue["history"].append({"at": outcome.at.isoformat(), "run_id": run_id,
                                 "observed": outcome.observed})
    signature = patterns.classify(
        outcome.probe or signatures.step_kind(step.stage, step.kind), outcome.observed,
        step.status)
    issue.update({"probe": outcome.probe, "observed": outcome.observed,
                  "evidence": outcome.detail, "last_seen": outcome.at.isoformat(),
                  "last_run_id": run_id, "signature": signature.key,
                  "recommendation": signature.recommendation})


@dataclass(frozen=True)
class _Outcome:
    key: str  # follows one check across runs (see phasegate.store.checks.keys)
    name: str
    passed: bool
    at: datetime
    probe: str | None
    observed: str
    detail: str


def _outcomes(step: StepRecord) -> list[_Outcome]:
    if step.status == BLOCKED:  # waits for another task: neither a failure nor a pass
        return []
    if step.observations:
        found = checks.of(step.observations)
        # a check cut short by another failing fast neither failed nor passed
        return [_Outcome(key, c.last.name, c.last.passed, c.last.finished, c.last.probe,
                         c.last.observed, _excerpt(c.last.detail))
                for key, c in zip(checks.keys(found), found, strict=True) if not c.stopped]
    if step.status in ("passed", "failed", "error", "timed out"):
        return [_Outcome("", "", step.status == "passed", step.finished or step.started, None,
                         step.detail, "")]
    return []


def _recommendations(issues: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per recommendation, however many issues lead to it."""
    found: dict[str, dict[str, Any]] = {}
    for issue in issues:
        text = issue["recommendation"]
        if not text:
            continue
        entry = found.setdefault(text, {"recommendation": text, "signatures": [],
                                        "issues": 0, "open": 0})
        if issue["signature"] not in entry["signatures"]:
            entry["signatures"].append(issue["signature"])
        entry["issues"] += 1
        entry["open"] += 0 if issue["resolved"] else 1
    return sorted(found.values(), key=lambda e: (-e["open"], -e["issues"]))


def _summary(facts: dict[str, Any]) -> list[str]:
    m = facts["metrics"]
    issues = facts["critical_issues"]
    resolved = [i for i in issues if i["resolved"]]
    by_command = ", ".join(f"{n} {c}" for c, n in sorted(m["runs_by_command"].items()))
    completed = [p["id"] for p in facts["tasks_processed"] if p["outcome"] == "completed"]
    lines = [
        f"{m['runs']} recorded run{'s' if m['runs'] != 1 else ''} in the window"
        + (f" ({by_command})" if by_command else "") + ".",
        f"{m['tasks_processed']} task{'s' if m['tasks_processed'] != 1 else ''} processed; "
        f"{m['tasks_completed']} completed" + (f" ({', '.join(completed)})" if completed else "")
        + (f"; {m['completions_refused']} completion"
           f"{'s' if m['completions_refused'] != 1 else ''} refused for want of evidence"
           if m["completions_refused"] else "") + ".",
    ]
    if m["criteria_total"]:
        lines.append(f"Criteria at the last verification of each task: {m['criteria_verified']} "
                     f"of {m['criteria_total']} verified by probes, {m['criteria_attested']} "
                     f"attested (counted apart), {m['criteria_failing']} failing"
                     + (f", {m['criteria_blocked']} blocked by another task"
                        if m["criteria_blocked"] else "") + ".")
    if m["gates"]:
        lines.append(f"Gates: {_gate_counts(m)}; {_first_time_words(m)}; {m['rollbacks']} "
                     f"rollback{'s' if m['rollbacks'] != 1 else ''}.")
    lines.append(f"Issues: {len(issues)} found, {len(resolved)} resolved, "
                 f"{len(issues) - len(resolved)} still open.")
    if facts["blocked"]:
        lines.append(f"{len(facts['blocked'])} task{'s' if len(facts['blocked']) != 1 else ''} "
                     "blocked.")
    if facts["next"]:
        first = facts["next"][0]
        lines.append(f"Next: {first['id']} — {first['title']}.")
    return lines


def markdown(facts: dict[str, Any]) -> str:
    window = facts["window"]
    lines = [f"# Session report — {clock.stamp(_dt(window['since']))} to "
             f"{clock.stamp(_dt(window['until']))}", "", "## Executive summary", ""]
    lines += [f"- {line}" for line in facts["summary"]]
    lines += ["", "## Tasks processed", ""]
    if facts["tasks_processed"]:
        lines += ["| task | title | what happened | outcome |", "|---|---|---|---|"]
        for task in facts["tasks_processed"]:
            happened = ", ".join(_event_word(e) for e in task["events"])
            lines.append(f"| {task['id']} | {_cell(task['title'])} | {happened} | "
                         f"{_cell(task['outcome'])} |")
    else:
        lines.append("- none")
    lines += ["", "## Verification results", ""]
    for verification in facts["verifications"]:
        lines += [f"### {verification['task']} · {clock.stamp(_dt(verification['at']))} · "
                  f"run `{verification['run_id']}`", "", verification["summary"], "",
                  "| # | criterion | result | observed | evidence |", "|---|---|---|---|---|"]
        for c in verification["criteria"]:
            lines.append(f"| {c['n']} | {_cell(c['text'])} | {_mark(c['status'])} | "
                         f"{_cell(c.get('observed') or '')} | {_cell(c.get('evidence') or '')} |")
        lines.append("")
    if not facts["verifications"]:
        lines += ["- no task was verified in this window", ""]
    lines += ["## Timeline", "", "| time | run | command | subject | status | took | summary |",
              "|---|---|---|---|---|---|---|"]
    for event in facts["timeline"]:
        lines.append(f"| {clock.stamp(_dt(event['at']), True)} | `{event['run_id']}` | "
                     f"{event['command']} | {event['subject']} | {event['status']} | "
                     f"{clock.span(event['duration'])} | {_cell(event['summary'])} |")
    m = facts["metrics"]
    lines += ["", "## Metrics", "",
              f"- criteria verified by probes: {m['criteria_verified']} of "
              f"{m['criteria_total']}",
              f"- criteria attested (counted apart, never as verified): "
              f"{m['criteria_attested']}",
              f"- tasks completed: {m['tasks_completed']} of {m['tasks_processed']} processed "
              f"({m['completions_refused']} completion"
              f"{'s' if m['completions_refused'] != 1 else ''} refused)",
              f"- gates: {_gate_counts(m)}",
              f"- gates that passed without failing before in this window: "
              f"{m['gates_passed_first_time']} (of {m['gates_passed']} passes)",
              f"- rollbacks: {m['rollbacks']}",
              "- time per stage: " + (", ".join(
                  f"{stage} {clock.span(seconds)}"
                  for stage, seconds in m["time_per_stage"].items()) or "—")]
    lines += ["", "## Critical issues", ""]
    for issue in facts["critical_issues"]:
        where = f"{issue['subject']} · {issue['step']}" + (
            f" · `{issue['check']}`" if issue["check"] else "")
        status = (f"resolved {clock.stamp(_dt(issue['resolved']))} by {issue['resolved_by']} "
                  f"({clock.span(issue['time_to_fix'])} after it was found)"
                  if issue["resolved"] else "**open**")
        lines += [f"- {where}: {_one_line(issue['observed'])}",
                  f"  - found {clock.stamp(_dt(issue['first_seen']))} in {issue['command']} run "
                  f"`{issue['run_id']}`" + (f", seen {issue['recurrences']} more time"
                                            f"{'s' if issue['recurrences'] != 1 else ''}"
                                            if issue["recurrences"] else "")
                  + (f", last {clock.stamp(_dt(issue['last_seen']))} in run "
                     f"`{issue['last_run_id']}`" if issue["recurrences"] else "")]
        if len(issue["history"]) > 1:
            lines.append("  - causes over time: " + " → ".join(
                f"{clock.stamp(_dt(h['at']))} “{_one_line(h['observed'])}”"
                for h in issue["history"]))
        lines.append(f"  - {status}")
    if not facts["critical_issues"]:
        lines.append("- none: nothing failed in this window")
    if facts["recommendations"]:
        lines += ["", "## Recommendations", ""]
        lines += [f"- {r['recommendation']} ({_issue_count(r)}; "
                  f"{', '.join(f'`{s}`' for s in r['signatures'])})"
                  for r in facts["recommendations"]]
    lines += ["", "## Blocked tasks", ""]
    lines += [f"- {b['id']} — {b['title']}: waits for {', '.join(b['blockers'])}"
              for b in facts["blocked"]] or ["- none" if facts["tasks_directory"] else
                                             "- (no tasks directory given)"]
    lines += ["", "## Next priorities", ""]
    lines += [f"{i}. {t['id']} — {t['title']} ({t['priority']}, {t['folder']}; "
              f"{_percent(t)})" for i, t in enumerate(facts["next"], start=1)] or [
        "- nothing ready" if facts["tasks_directory"] else "- (no tasks directory given)"]
    lines += ["", "## Backlog status", ""]
    if facts["backlog"]:
        lines += ["| task | priority | where | verified | attested | waits for | title |",
                  "|---|---|---|---|---|---|---|"]
        for t in facts["backlog"]:
            tally = t["tally"]
            lines.append(f"| {t['id']} | {t['priority']} | {t['folder']} | {_percent(t)} | "
                         f"{tally['attested']} | {', '.join(t['blockers']) or '—'} | "
                         f"{_cell(t['title'])} |")
        counts = Counter(t["folder"] for t in facts["backlog"])
        lines += ["", "- " + ", ".join(f"{counts.get(f, 0)} {f}"
                                        for f in ("backlog", "active", "completed"))]
    else:
        lines.append("- (no tasks directory given)")
    return "\n".join(lines) + "\n"


def _gate_counts(m: dict[str, Any]) -> str:
    return (f"{m['gates']} evaluation{'s' if m['gates'] != 1 else ''}, {m['gates_passed']} "
            f"passed, {m['gates_failed']} failed")


def _first_time_words(m: dict[str, Any]) -> str:
    if not m["gates_passed"]:
        return "none passed"
    return (f"{m['gates_passed_first_time']} of the {m['gates_passed']} passes came without an "
            "earlier failure of the same gate")


def _issue_count(entry: dict[str, Any]) -> str:
    issues = f"{entry['issues']} issue{'s' if entry['issues'] != 1 else ''}"
    return f"{issues}, {entry['open']} open" if entry["open"] else f"{issues}, all resolved"


def _event_word(event: dict[str, Any]) -> str:
    word = str(event["command"]).split()[-1]
    return word if event["status"] in ("passed", "failed") else f"{word} {event['status']}"


def _percent(task: dict[str, Any]) -> str:
    tally = task["tally"]
    if not tally["total"]:
        return "no criteria"
    if tally.get("never_verified") == tally["total"]:
        return "never verified"
    blocked = f", {tally['blocked']} blocked" if tally.get("blocked") else ""
    return f"{tally['verified']}/{tally['total']} verified ({tally['percent']}%){blocked}"


def _mark(status: str) -> str:
    return {"passed": "✅ verified", "failed": "❌ failed", "error": "❌ error",
            "attested": "✍ attested", "needs attestation": "… needs attestation",
            BLOCKED: "⏸ blocked"}.get(
        status, status)


def _seconds(start: Any, end: Any) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def _excerpt(text: str, limit: int = 400) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 2] + "\n…\n" + text[-limit // 2:]


def _one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= 220 else flat[:219] + "…"


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)
