"""What each page shows, as plain data read from the store through the reports and tasks
modules (the same facts the CLI prints); templates only lay it out."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from phasegate import reports
from phasegate.reports import clock, facts, markdown, retro
from phasegate.reports import patterns as mined
from phasegate.store.evidence import FAILED_STEP_STATUSES, EvidenceStore
from phasegate.store.records import RunBundle
from phasegate.web import markup, timeline

PAGE = 50  # runs per page of the list
DEPLOYMENT_RECORD = "deployment record"  # the artifact workflow.records keeps
PATTERN_WINDOW = timedelta(days=30)


class NotFound(LookupError):
    """No such thing to show (a 404 page naming it)."""


class BadQuery(ValueError):
    """A filter in the URL that means nothing (shown as a 400 page naming it)."""


@dataclass(frozen=True)
class RunFilters:
    plan: str = ""
    status: str = ""
    command: str = ""
    since: str = ""  # 6h, 48h, or an ISO time
    page: int = 1

    @classmethod
    def of(cls, query: dict[str, str]) -> RunFilters:
        try:
            page = int(query.get("page") or 1)
        except ValueError:
            raise BadQuery(f"page: expected a number, got {query.get('page')!r}") from None
        return cls(query.get("plan", "").strip(), query.get("status", "").strip(),
                   query.get("command", "").strip(), query.get("since", "").strip(),
                   max(page, 1))

    def moment(self, now: datetime) -> datetime | None:
        if not self.since:
            return None
        try:
            return clock.moment(self.since, now)
        except ValueError as exc:
            raise BadQuery(f"since: {exc}") from None

    def query(self, **changed: Any) -> str:
        """This filter as a query string, with ``changed`` fields replaced."""
        from urllib.parse import urlencode

        values = {**asdict(self), **changed}
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})


def runs(store: EvidenceStore, filters: RunFilters, now: datetime) -> dict[str, Any]:
    found = store.find_runs(
        plan_name=filters.plan or None, statuses=(filters.status,) if filters.status else None,
        commands=(filters.command,) if filters.command else None, since=filters.moment(now),
        limit=PAGE + 1, offset=(filters.page - 1) * PAGE)
    return {"runs": [run_row(r, now) for r in found[:PAGE]], "filters": filters,
            "more": len(found) > PAGE, "choices": store.run_choices()}


def run_row(run: Any, now: datetime) -> dict[str, Any]:
    end = run.finished or now
    return {"id": run.id, "command": run.command, "plan": run.plan_name, "status": run.status,
            "started": clock.stamp(run.started), "ago": clock.ago(run.started, now),
            "duration": clock.span((end - run.started).total_seconds()),
            "summary": run.summary}


def run(store: EvidenceStore, ref: str, now: datetime) -> dict[str, Any]:
    bundle = store.load(ref)
    collected = facts.collect(bundle)
    record = _artifact(bundle, DEPLOYMENT_RECORD)
    diagnostics = [a for a in collected["artifacts"] if a["name"].startswith("diagnostics: ")]
    return {"run": run_row(bundle.run, now), "facts": collected,
            "timeline": timeline.build(collected, now),
            "failed": _failed(collected["steps"]),
            "diagnostics": diagnostics,
            "deployment_record": markup.html(record) if record else None}


def _failed(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each check that failed on its own account, and each step that failed without one
    (an apply the server refused): what, where, expected, observed, output."""
    found = []
    for step in steps:
        where = f"{step['stage']} · {step['name']}"
        failing = [c for c in step["checks"] if not c["passed"] and not c["stopped"]]
        found += [{"name": c["name"], "probe": c["probe"], "where": where,
                   "expected": c["expected"], "observed": c["observed"], "output": c["output"]}
                  for c in failing]
        if not failing and step["status"] in FAILED_STEP_STATUSES:
            found.append({"name": step["name"], "probe": step["kind"] or "step",
                          "where": where, "expected": "", "observed": step["detail"],
                          "output": ""})
    return found


def _artifact(bundle: RunBundle, name: str) -> str | None:
    found = [a.content for a in bundle.artifacts if a.name == name]
    return found[-1] if found else None


def evidence(store: EvidenceStore, ref: str, now: datetime) -> dict[str, Any]:
    bundle = store.load(ref)
    return {"run": run_row(bundle.run, now),
            "html": markup.html(markdown.render(facts.collect(bundle)))}


def export(store: EvidenceStore, ref: str, fmt: str) -> str:
    return reports.render(store.load(ref), fmt)


def retrospective(store: EvidenceStore, ref: str, now: datetime) -> dict[str, Any]:
    bundle = store.load(ref)
    collected = retro.collect(bundle, retro.plan_facts(bundle))
    return {"run": run_row(bundle.run, now), "html": markup.html(retro.markdown(collected))}


def tasks(store: EvidenceStore, root: Path) -> dict[str, Any]:
    from phasegate.tasks import snapshot

    if not root.is_dir():
        return {"directory": str(root), "missing": True}
    taken = snapshot.take(root, store)
    everything = taken["tasks"]
    total = sum(t["tally"]["total"] for t in everything)
    verified = sum(t["tally"]["verified"] for t in everything)
    completed = [t for t in everything if t["folder"] == "completed"]
    return {**taken, "missing": False, "completed": completed,
            "criteria": total, "verified": verified,
            "percent": round(100 * verified / total) if total else 0}


def patterns(store: EvidenceStore, now: datetime, min_runs: int = 2) -> dict[str, Any]:
    found = mined.group(mined.occurrences(store.failures(since=now - PATTERN_WINDOW)), min_runs)
    return {"patterns": [{**p.to_dict(), "last_ago": clock.ago(p.last, now),
                          "first": clock.stamp(p.first), "last": clock.stamp(p.last)}
                         for p in reversed(found)],
            "window": clock.span(PATTERN_WINDOW.total_seconds()), "min_runs": min_runs}
