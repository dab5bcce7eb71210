"""The domain pages' data, read through the domains read API (``domains.queries``): the
overview (each domain's state, since when, its 24 h strip with deploy markers, its latest
test report) and one domain (its probes and their history, recent runs, test reports, the
task criteria that name it)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from phasegate.domains import loader, queries
from phasegate.domains.model import DomainsFile
from phasegate.reports import clock
from phasegate.store.evidence import EvidenceStore
from phasegate.web import strips, views

RECENT = 20  # runs and reports on a domain page


@dataclass
class DomainsSource:
    """The domains file, read again whenever it changes on disk."""

    path: Path
    _loaded: DomainsFile | None = None
    _stamp: tuple[float, int] = (0.0, 0)

    def get(self) -> DomainsFile:
        stat = self.path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if self._loaded is None or stamp != self._stamp:
            self._loaded, self._stamp = loader.load_domains(self.path), stamp
        return self._loaded


def _state(state: Any, now: datetime) -> dict[str, Any]:
    if state is None:
        return {"state": "unknown", "words": "never evaluated", "since": None, "ago": "",
                "reason": "no `phasegate health` recorded for it yet", "cause": None}
    return {"state": state.state, "words": state.words, "since": clock.stamp(state.at),
            "ago": clock.ago(state.at, now), "reason": state.reason, "cause": state.cause,
            "passing": state.passing, "total": state.total}


def _report(report: Any) -> dict[str, Any] | None:
    if report is None:
        return None
    return {"name": report.name, "run_id": report.run_id, "tests": report.tests,
            "failures": report.failures, "errors": report.errors, "passed": report.passed,
            "when": clock.stamp(report.recorded_at),
            "failing": [c for c in report.cases if c.outcome in ("failed", "error")]}


def _strip(changes: Sequence[tuple[datetime, str]], runs: Sequence[Any], start: datetime,
           now: datetime) -> dict[str, Any]:
    found = strips.segments(changes, start, now)
    return {"segments": found, "markers": strips.markers(runs, start, now),
            "width": strips.WIDTH, "summary": strips.summary(found, start, now)}


def overview(store: EvidenceStore, source: DomainsSource, now: datetime) -> dict[str, Any]:
    domains = source.get()
    names = list(domains.domains)
    start = now - strips.DAY
    # one query per kind for every domain: twenty domains asked one by one cost 80 queries
    states = queries.current(store, names)
    changes = queries.histories(store, names, start, now)
    reports = queries.latest_results_of(store, names)
    deployed = queries.deployments_of(store, domains, names, since=start, until=now)
    rows = []
    for name, spec in domains.domains.items():
        rows.append({"name": name, "owner": spec.owner, "description": spec.description,
                     "depends_on": list(spec.depends_on), **_state(states.get(name), now),
                     "strip": _strip([(s.at, s.state) for s in changes[name]],
                                     deployed[name], start, now),
                     "results": _report(reports.get(name))})
    counts = {state: sum(1 for r in rows if r["state"] == state)
              for state in ("healthy", "degraded", "down", "unknown")}
    return {"domains": rows, "counts": counts, "file": str(source.path)}


def domain(store: EvidenceStore, source: DomainsSource, name: str, now: datetime,
           tasks_dir: Path) -> dict[str, Any]:
    domains = source.get()
    if name not in domains.domains:
        raise views.NotFound(f"no domain '{name}' in {source.path} "
                         f"(domains: {', '.join(domains.domains) or 'none'})")
    spec = domains.domains[name]
    current = queries.current(store, [name]).get(name)
    start = now - strips.DAY
    probes = []
    changed = queries.probe_histories(store, name, start, now)
    for probe, state in sorted(queries.current_probes(store, name).items()):
        changes = [(p.at, p.state) for p in changed.get(probe, [])]
        observed = state.observation
        probes.append({"name": probe, "state": state.state, "since": clock.stamp(state.at),
                       "ago": clock.ago(state.at, now),
                       "expected": str(observed.get("expected", "")),
                       "observed": str(observed.get("observed", "")),
                       "strip": _strip(changes, [], start, now)})
    runs = queries.deployments(store, domains, name, limit=RECENT)
    today = queries.deployments(store, domains, name, since=start, until=now, limit=500)
    day = [(s.at, s.state) for s in queries.history(store, name, start, now)]
    return {"name": name, "owner": spec.owner, "description": spec.description,
            "depends_on": list(spec.depends_on), "paths": list(spec.paths),
            "plans": list(spec.plans), **_state(current, now),
            "strip": _strip(day, today, start, now), "probes": probes,
            "runs": [views.run_row(r, now) for r in runs],
            "reports": [_report(r) for r in queries.results(store, name, limit=RECENT)],
            "criteria": criteria_naming(store, tasks_dir, name)}


def criteria_naming(store: EvidenceStore, root: Path, name: str) -> list[dict[str, Any]]:
    """Task criteria whose text names the domain (as a word), with what the evidence says
    of each: the work still owed to it."""
    if not root.is_dir():
        return []
    from phasegate.tasks import queue, verify

    tasks, _built = queue.load(root)
    word = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)
    named = [t for t in tasks if any(word.search(c.text) for c in t.criteria)]
    states = verify.all_states(store, named)
    return [{"task": task.id, "title": task.title, "folder": task.folder,
             "n": result.criterion.number, "text": result.criterion.text,
             "status": result.status, "observed": result.observed}
            for task in named for result in states[task.id] if word.search(result.criterion.text)]
