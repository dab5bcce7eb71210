"""/metrics over a real SQLite store whose rows carry chosen times: the exact counts, bucket
counts and sums a Prometheus parser reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.openmetrics import parser as openmetrics
from sqlalchemy import insert
from starlette.testclient import TestClient

from phasegate.domains import history
from phasegate.domains.records import DomainState
from phasegate.store import records, tables
from phasegate.store.evidence import EvidenceStore
from phasegate.web import app
from phasegate.web.settings import Settings
from tests.fixtures.prometheus import key, labelled, samples

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DOMAINS = """apiVersion: phasegate/v1
kind: Domains
domains:
  payments:
    health:
      - file: {path: /etc/hostname}
  search:
    health:
      - file: {path: /etc/hostname}
"""


def _run(run_id: str, plan: str | None, command: str, status: str) -> dict[str, Any]:
    return dict(id=run_id, command=command, plan_name=plan, plan_path=None, plan_hash=None,
                status=status, started_at=AT, finished_at=None if status == "running" else
                AT + timedelta(minutes=5), summary="", meta="{}")


def _step(run_id: str, stage: str, kind: str, status: str,
          seconds: float | None) -> dict[str, Any]:
    return dict(run_id=run_id, stage=stage, name=f"{stage} {kind}", status=status,
                started_at=AT, finished_at=None if seconds is None else
                AT + timedelta(seconds=seconds), duration=seconds,  # as finish_step writes
                timeout=60.0, detail="", kind=kind)


def filled(path: Path) -> EvidenceStore:
    store = EvidenceStore(str(path))
    with store.engine.begin() as connection:
        connection.execute(insert(tables.runs), [
            _run("r1", "shop", "run", "passed"), _run("r2", "shop", "run", "failed"),
            _run("r3", "shop", "check", "failed"), _run("r4", "shop", "run", "running"),
            _run("r5", None, "probe", "passed")])
        connection.execute(insert(tables.steps), [
            _step("r1", "R", records.GATE, "passed", 0.2),
            _step("r1", "I", records.GATE, "passed", 4.0),
            _step("r1", "I", records.APPLY, "passed", 1.0),  # not a gate: not counted
            _step("r2", "R", records.GATE, "passed", 0.3),
            _step("r2", "I", records.GATE, "timed out", 60.0),
            _step("r3", "R", records.GATE, "failed", 2.0),
            _step("r4", "I", records.GATE, "running", None)])  # waiting: no duration yet
    return store


def test_runs_and_gates_are_counted_and_their_durations_bucketed(tmp_path: Path) -> None:
    store = filled(tmp_path / "e.db")
    with TestClient(app.create(Settings(str(tmp_path / "e.db")), store)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "text/plain; version=0.0.4")
    found = samples(answer.text)
    runs = {(dict(labels)["plan"], dict(labels)["command"], dict(labels)["status"]): value
            for labels, value in labelled(found, "phasegate_runs_total").items()}
    assert runs == {("shop", "run", "passed"): 1, ("shop", "run", "failed"): 1,
                    ("shop", "check", "failed"): 1, ("", "probe", "passed"): 1}
    assert found[key("phasegate_runs_in_progress", plan="shop", command="run")] == 1
    assert found[key("phasegate_gate_results_total", plan="shop", stage="R",
                     outcome="passed")] == 2
    assert found[key("phasegate_gate_results_total", plan="shop", stage="R",
                     outcome="failed")] == 1
    assert found[key("phasegate_gate_results_total", plan="shop", stage="I",
                     outcome="timed_out")] == 1
    assert found[key("phasegate_gate_results_total", plan="shop", stage="I",
                     outcome="passed")] == 1
    assert not any(labels == key("", plan="shop", stage="I", outcome="running")[1]
                   for _, labels in found)
    r_stage = {"0.1": 0, "0.25": 1, "0.5": 2, "1": 2, "2.5": 3, "60": 3, "+Inf": 3}
    for bound, count in r_stage.items():
        assert found[key("phasegate_gate_duration_seconds_bucket", plan="shop", stage="R",
                         le=bound)] == count, bound
    i_stage = {"2.5": 0, "5": 1, "30": 1, "60": 2, "+Inf": 2}
    for bound, count in i_stage.items():
        assert found[key("phasegate_gate_duration_seconds_bucket", plan="shop", stage="I",
                         le=bound)] == count, bound
    assert found[key("phasegate_gate_duration_seconds_count", plan="shop", stage="I")] == 2
    assert found[key("phasegate_gate_duration_seconds_sum", plan="shop", stage="R")] == 2.5
    assert found[key("phasegate_gate_duration_seconds_sum", plan="shop", stage="I")] == 64.0
    assert "phasegate_domain_state" not in answer.text  # no domains file served


def test_domains_show_their_current_state_and_since_when(tmp_path: Path) -> None:
    store = filled(tmp_path / "e.db")
    history.record_changes(store, [
        DomainState("payments", "down", "down", None, 0, 1, "", AT),
        DomainState("payments", "healthy", "healthy", None, 1, 1, "", AT + timedelta(hours=1)),
        DomainState("gone", "down", "down", None, 0, 1, "", AT)], [])  # not in the file
    domains = tmp_path / "domains.yaml"
    domains.write_text(DOMAINS)
    settings = Settings(str(tmp_path / "e.db"), domains_file=domains)
    with TestClient(app.create(settings, store)) as client:
        text = client.get("/metrics", headers={"Accept": "application/openmetrics-text; "
                                                          "version=1.0.0"}).text
    assert text.endswith("# EOF\n")  # OpenMetrics, as Prometheus asks for it
    found = samples(text, openmetrics.text_string_to_metric_families)
    states = {(dict(labels)["domain"], dict(labels)["state"]): value
              for labels, value in labelled(found, "phasegate_domain_state").items()}
    assert states == {("payments", "healthy"): 1, ("payments", "degraded"): 0,
                      ("payments", "down"): 0, ("payments", "unknown"): 0,
                      ("search", "healthy"): 0, ("search", "degraded"): 0,
                      ("search", "down"): 0, ("search", "unknown"): 1}  # never evaluated
    since = {dict(labels)["domain"]: value for labels, value in
             labelled(found, "phasegate_domain_state_since_timestamp_seconds").items()}
    assert since == {"payments": (AT + timedelta(hours=1)).timestamp()}
