"""Writing what domains keep: each change of a domain's state or of a probe's answer, and
each test report. Text passes through secret masking first, as everything the store keeps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from phasegate import secrets
from phasegate.domains.records import DomainState, ProbeState, TestReport
from phasegate.errors import StoreError
from phasegate.store import tables
from phasegate.store.evidence import EvidenceStore


def _json(data: object) -> str:
    return json.dumps(secrets.mask_data(data), sort_keys=True, default=str)


def record_changes(store: EvidenceStore, states: Sequence[DomainState],
                   probes: Sequence[ProbeState]) -> None:
    """Domain state and probe changes, in one transaction (all or none)."""
    if not states and not probes:
        return
    domain_rows = [dict(domain=s.domain, state=s.state, own_state=s.own_state, cause=s.cause,
                        passing=s.passing, total=s.total, reason=secrets.mask(s.reason),
                        observations=_json(list(s.observations)), at=s.at) for s in states]
    probe_rows = [dict(domain=p.domain, probe=secrets.mask(p.probe), state=p.state,
                       observation=_json(p.observation), at=p.at) for p in probes]
    try:
        with store.engine.begin() as connection:
            if domain_rows:
                connection.execute(insert(tables.domain_states), domain_rows)
            if probe_rows:
                connection.execute(insert(tables.probe_states), probe_rows)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"cannot write to the evidence store: {reason}") from None


def record_report(store: EvidenceStore, report: TestReport, xml_text: str,
                  meta: dict[str, Any] | None = None) -> str:
    """A test report as evidence of its domain: a run (command ``results``) holding the
    report as an artifact and one observation per test case, and the report's row that
    the dashboard and ``queries.latest_results`` read. Returns the run id."""
    from phasegate.observation import Observation

    run_id = store.start_run("results", meta={"domain": report.domain, "report": report.name,
                                              **(meta or {})})
    try:
        step_id = store.start_step(run_id, "results", f"tests of {report.domain}")
        now = datetime.now(UTC)
        observations = [
            Observation(probe="junit", name=_case_name(case.classname, case.name),
                        params={"report": report.name}, passed=case.outcome != "failed"
                        and case.outcome != "error", expected="passed or skipped",
                        observed=case.outcome, detail=case.message, started=now, finished=now,
                        attempt=1, error=case.outcome == "error",
                        data={"time": case.time}) for case in report.cases]
        store.record_many(run_id, step_id, observations)
        store.add_artifact(run_id, f"junit: {report.name}", xml_text, "application/xml")
        status = "passed" if report.passed else "failed"
        store.finish_step(step_id, status)
        _insert_report(store, report, run_id)
    except BaseException:
        store.finish_run(run_id, "error", "the report could not be recorded whole")
        raise
    store.finish_run(run_id, status, summary(report))
    return run_id


def _case_name(classname: str, name: str) -> str:
    return f"{classname}.{name}" if classname else name


def summary(report: TestReport) -> str:
    text = f"{report.tests} tests"
    parts = [f"{n} {word}" for n, word in ((report.failures, "failed"),
                                           (report.errors, "errors"),
                                           (report.skipped, "skipped")) if n]
    return text + (": " + ", ".join(parts) if parts else ", all passed")


def _insert_report(store: EvidenceStore, report: TestReport, run_id: str) -> None:
    row = dict(domain=report.domain, run_id=run_id, name=secrets.mask(report.name),
               tests=report.tests, failures=report.failures, errors=report.errors,
               skipped=report.skipped, duration=report.duration,
               cases=_json([case.to_dict() for case in report.cases]),
               recorded_at=datetime.now(UTC))
    try:
        with store.engine.begin() as connection:
            connection.execute(insert(tables.test_reports).values(**row))
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"cannot write to the evidence store: {reason}") from None
