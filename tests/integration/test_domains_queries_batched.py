"""The batched domain queries give what the one-at-a-time ones give, on SQLite and on a
real PostgreSQL server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from phasegate.domains import history, loader, queries
from phasegate.domains.records import DomainState, ProbeState, TestReport
from phasegate.store.evidence import EvidenceStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EvidenceStore:
    if request.param == "sqlite":
        return EvidenceStore(str(tmp_path / "e.db"))
    return EvidenceStore(request.getfixturevalue("postgres_url"))


def test_batched_answers_equal_one_at_a_time(store: EvidenceStore, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    names = [f"a-{tag}", f"b-{tag}", f"c-{tag}"]  # c: never evaluated
    now = datetime.now(UTC)
    start = now - timedelta(hours=24)
    states, probes = [], []
    for n, name in enumerate(names[:2]):
        for hours, state in ((30, "healthy"), (26, "down"), (10, "healthy"), (2 + n, "down")):
            at = now - timedelta(hours=hours)
            states.append(DomainState(name, state, state, None, 0, 1, "", at))  # type: ignore[arg-type]
            probes += [ProbeState(name, probe, "failing" if state == "down" else "passing", at)
                       for probe in ("http", "tcp")]
    history.record_changes(store, states, probes)
    for name in names[:2]:
        for tests in (3, 5):
            history.record_report(store, TestReport(name, f"{name}-{tests}.xml", tests, 0, 0,
                                                    0, 1.0, ()), "<testsuite/>")
    batched = queries.histories(store, names, start, now)
    for name in names:
        assert batched[name] == queries.history(store, name, start, now)
    assert [s.state for s in batched[names[0]]] == ["down", "healthy", "down"]
    by_probe = queries.probe_histories(store, names[1], start, now)
    for probe in ("http", "tcp"):
        assert by_probe[probe] == queries.probe_history(store, names[1], start, now, probe)
    latest = queries.latest_results_of(store, names)
    assert set(latest) == set(names[:2])
    for name in names[:2]:
        assert latest[name] == queries.latest_results(store, name)

    plan = tmp_path / "plan.yaml"
    (tmp_path / "domains.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Domains\ndomains:\n"
        f"  {names[0]}: {{plans: [plan.yaml]}}\n  {names[1]}: {{plans: [plan.yaml]}}\n"
        f"  {names[2]}: {{}}\n")
    domains = loader.load_domains(tmp_path / "domains.yaml")
    run = store.start_run("run", plan_name="p", plan_path=str(plan.resolve()))
    deployed = queries.deployments_of(store, domains, names)
    for name in names:
        assert [r.id for r in deployed[name]] == [
            r.id for r in queries.deployments(store, domains, name)]
    assert [r.id for r in deployed[names[0]]] == [run]
