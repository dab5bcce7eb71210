"""The read API of domains, for the dashboard, ``phasegate health`` and other readers.

Stable: names and fields here are only ever added to, never renamed or removed.

- :func:`overview` — every domain of a domains file: owner, current state, since when, its
  latest test report.
- :func:`current` — the latest recorded state of each domain (``DomainState.at`` is since when).
- :func:`history` — a domain's state changes in a time range, starting with the state in
  effect at its start (a 24 h strip needs to know how the day began).
- :func:`current_probes` / :func:`probe_history` — the same for each health probe.
- :func:`latest_results` / :func:`results` — the test reports recorded for a domain.
- :func:`deployments` — the runs of a domain's plans (deploy markers).
- :func:`histories`, :func:`probe_histories`, :func:`latest_results_of` and
  :func:`deployments_of` — the same for many at once, in a fixed number of queries (the
  dashboard's overview of twenty domains asks each of them once per domain otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select

from phasegate.domains.model import DomainsFile
from phasegate.domains.records import DomainState, ProbeState, TestCase, TestReport
from phasegate.store import tables
from phasegate.store.evidence import EvidenceStore
from phasegate.store.records import RunRecord


@dataclass(frozen=True)
class DomainSummary:
    """One row of the overview; ``state`` is None for a domain never evaluated."""

    name: str
    owner: str | None
    description: str | None
    depends_on: tuple[str, ...]
    state: DomainState | None
    results: TestReport | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "description": self.description,
                "depends_on": list(self.depends_on),
                "state": self.state.to_dict() if self.state else None,
                "results": self.results.to_dict() if self.results else None}


def overview(domains: DomainsFile, store: EvidenceStore) -> list[DomainSummary]:
    states = current(store, list(domains.domains))
    return [DomainSummary(name, d.owner, d.description, tuple(d.depends_on), states.get(name),
                          latest_results(store, name))
            for name, d in domains.domains.items()]


def current(store: EvidenceStore, names: Sequence[str] | None = None) -> dict[str, DomainState]:
    """The latest recorded state of each domain (of ``names``, or of every one recorded)."""
    t = tables.domain_states
    newest = select(t.c.domain, func.max(t.c.id).label("id")).group_by(t.c.domain)
    if names is not None:
        newest = newest.where(t.c.domain.in_(list(names)))
    latest = newest.subquery()
    query = select(t).join(latest, t.c.id == latest.c.id)
    with store.engine.connect() as connection:
        return {row["domain"]: _state(row) for row in connection.execute(query).mappings()}


def history(store: EvidenceStore, domain: str, start: datetime,
            end: datetime | None = None) -> list[DomainState]:
    """The state in effect at ``start`` (if one was recorded before), then every change up to
    ``end``, oldest first."""
    t = tables.domain_states
    rows = _range(store, t, t.c.domain == domain, start, end)
    return [_state(row) for row in rows]


def current_probes(store: EvidenceStore, domain: str) -> dict[str, ProbeState]:
    """The latest recorded answer of each of the domain's health probes, by probe name."""
    t = tables.probe_states
    latest = (select(func.max(t.c.id).label("id")).where(t.c.domain == domain)
              .group_by(t.c.probe).subquery())
    query = select(t).join(latest, t.c.id == latest.c.id)
    with store.engine.connect() as connection:
        return {row["probe"]: _probe(row) for row in connection.execute(query).mappings()}


def probe_history(store: EvidenceStore, domain: str, start: datetime,
                  end: datetime | None = None, probe: str | None = None) -> list[ProbeState]:
    """Changes of the domain's probes (or of one), as :func:`history` gives the domain's."""
    t = tables.probe_states
    where = t.c.domain == domain if probe is None else and_(t.c.domain == domain,
                                                            t.c.probe == probe)
    if probe is not None:
        return [_probe(row) for row in _range(store, t, where, start, end)]
    rows = []  # the answer in effect at start, per probe
    for name in current_probes(store, domain):
        rows.extend(_range(store, t, and_(where, t.c.probe == name), start, end, only_before=True))
    later = _range(store, t, where, start, end, before=False)
    return sorted((_probe(row) for row in [*rows, *later]), key=lambda p: (p.at, p.probe))


def latest_results(store: EvidenceStore, domain: str) -> TestReport | None:
    found = results(store, domain, limit=1)
    return found[0] if found else None


def results(store: EvidenceStore, domain: str, limit: int = 20) -> list[TestReport]:
    """The domain's test reports, newest first."""
    t = tables.test_reports
    query = (select(t).where(t.c.domain == domain)
             .order_by(t.c.recorded_at.desc(), t.c.id.desc()).limit(limit))
    with store.engine.connect() as connection:
        return [_report(row) for row in connection.execute(query).mappings()]


def deployments(store: EvidenceStore, domains: DomainsFile, domain: str,
                since: datetime | None = None, until: datetime | None = None,
                limit: int | None = 50) -> list[RunRecord]:
    """Runs of the domain's plans (by the plan file each run recorded), newest first."""
    paths = [str(path) for path in domains.plan_paths(domain)]
    if not paths:
        return []
    return store.find_runs(plan_paths=paths, since=since, until=until, limit=limit)


def histories(store: EvidenceStore, names: Sequence[str], start: datetime,
              end: datetime | None = None) -> dict[str, list[DomainState]]:
    """:func:`history` of each of ``names``, in two queries."""
    t = tables.domain_states
    rows = _ranges(store, t, t.c.domain, t.c.domain.in_(list(names)), start, end)
    found: dict[str, list[DomainState]] = {name: [] for name in names}
    for row in rows:
        found[row["domain"]].append(_state(row))
    return found


def probe_histories(store: EvidenceStore, domain: str, start: datetime,
                    end: datetime | None = None) -> dict[str, list[ProbeState]]:
    """:func:`probe_history` of each of the domain's probes, by probe name, in two queries."""
    t = tables.probe_states
    found: dict[str, list[ProbeState]] = {}
    for row in _ranges(store, t, t.c.probe, t.c.domain == domain, start, end):
        found.setdefault(row["probe"], []).append(_probe(row))
    return found


def latest_results_of(store: EvidenceStore, names: Sequence[str]) -> dict[str, TestReport]:
    """:func:`latest_results` of each of ``names`` that has one, in one query."""
    t = tables.test_reports
    newest = (select(func.max(t.c.id).label("id")).where(t.c.domain.in_(list(names)))
              .group_by(t.c.domain).subquery())
    query = select(t).join(newest, t.c.id == newest.c.id)
    with store.engine.connect() as connection:
        return {row["domain"]: _report(row) for row in connection.execute(query).mappings()}


def deployments_of(store: EvidenceStore, domains: DomainsFile, names: Sequence[str],
                   since: datetime | None = None, until: datetime | None = None,
                   limit: int | None = 1000) -> dict[str, list[RunRecord]]:
    """:func:`deployments` of each of ``names``, in one query (``limit`` over all of them)."""
    owners: dict[str, list[str]] = {}
    for name in names:
        for path in domains.plan_paths(name):
            owners.setdefault(str(path), []).append(name)
    found: dict[str, list[RunRecord]] = {name: [] for name in names}
    if not owners:
        return found
    for run in store.find_runs(plan_paths=list(owners), since=since, until=until, limit=limit):
        for name in owners.get(run.plan_path or "", []):
            found[name].append(run)
    return found


def _ranges(store: EvidenceStore, table: Any, key: Any, where: Any, start: datetime,
            end: datetime | None) -> list[Any]:
    """For each ``key`` (a domain, a probe): its last row before ``start``, then its rows
    from ``start`` to ``end``; ordered by key, then time."""
    start_at = _bound(store, start)
    before = (select(func.max(table.c.id).label("id")).where(and_(where, table.c.at < start_at))
              .group_by(key).subquery())
    window = [where, table.c.at >= start_at]
    if end is not None:
        window.append(table.c.at <= _bound(store, end))
    with store.engine.connect() as connection:
        rows = list(connection.execute(select(table).join(before, table.c.id == before.c.id))
                    .mappings())
        rows += connection.execute(select(table).where(and_(*window))).mappings().all()
    return sorted(rows, key=lambda row: (row[key.name], _utc(row["at"]), row["id"]))


def _range(store: EvidenceStore, table: Any, where: Any, start: datetime,
           end: datetime | None, *, before: bool = True,
           only_before: bool = False) -> list[Any]:
    start_at = _bound(store, start)
    rows: list[Any] = []
    with store.engine.connect() as connection:
        if before:
            query = (select(table).where(and_(where, table.c.at < start_at))
                     .order_by(table.c.at.desc(), table.c.id.desc()).limit(1))
            rows.extend(connection.execute(query).mappings())
        if only_before:
            return rows
        window = [where, table.c.at >= start_at]
        if end is not None:
            window.append(table.c.at <= _bound(store, end))
        query = select(table).where(and_(*window)).order_by(table.c.at, table.c.id)
        rows.extend(connection.execute(query).mappings())
    return rows


def _bound(store: EvidenceStore, moment: datetime) -> datetime:
    utc = (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)
    return utc.replace(tzinfo=None) if store.engine.dialect.name == "sqlite" else utc


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _state(row: Any) -> DomainState:
    return DomainState(domain=row["domain"], state=row["state"], own_state=row["own_state"],
                       cause=row["cause"], passing=row["passing"], total=row["total"],
                       reason=row["reason"], at=_utc(row["at"]),
                       observations=tuple(json.loads(row["observations"] or "[]")))


def _probe(row: Any) -> ProbeState:
    return ProbeState(domain=row["domain"], probe=row["probe"], state=row["state"],
                      at=_utc(row["at"]), observation=json.loads(row["observation"] or "{}"))


def _report(row: Any) -> TestReport:
    cases = tuple(TestCase(c["name"], c["classname"], c["outcome"], c["time"],
                           c.get("message", "")) for c in json.loads(row["cases"]))
    return TestReport(domain=row["domain"], name=row["name"], tests=row["tests"],
                      failures=row["failures"], errors=row["errors"], skipped=row["skipped"],
                      duration=row["duration"], cases=cases, run_id=row["run_id"],
                      recorded_at=_utc(row["recorded_at"]))
