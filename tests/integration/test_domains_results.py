"""Test reports as evidence of a domain, and the domains read API on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from phasegate.domains import history, loader, queries
from phasegate.domains.records import DomainState, ProbeState
from phasegate.store.evidence import EvidenceStore
from tests.integration.cli_helpers import phasegate
from tests.integration.domains_helpers import any_store

__all__ = ["any_store"]  # a fixture

DOMAINS = """\
apiVersion: phasegate/v1
kind: Domains
domains:
  payments:
    owner: team-payments
    plans: [plans/payments.yaml]
    health: [{tcp: {host: 127.0.0.1, port: 1}}]
  identity: {}
"""


def _pytest_report(tmp_path: Path) -> Path:
    """A JUnit report written by a real pytest run: one pass, one failure, one skip."""
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_payments.py").write_text(
        "import pytest\n\n"
        "def test_charges():\n    assert 1 + 1 == 2\n\n"
        "def test_refunds():\n    assert 'refunded' == 'charged'\n\n"
        "@pytest.mark.skip(reason='no sandbox bank')\n"
        "def test_chargebacks():\n    pass\n")
    report = tmp_path / "report.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={report}", str(tmp_path / "suite")],
                          cwd=tmp_path / "suite", capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout  # the failing test fails the run
    return report


def test_a_real_pytest_report_is_recorded_as_evidence_of_its_domain(tmp_path: Path) -> None:
    report = _pytest_report(tmp_path)
    (tmp_path / "domains.yaml").write_text(DOMAINS)
    store_path = tmp_path / "evidence.db"
    done = phasegate("results", "add", "--domain", "payments", str(report),
                     "--store", str(store_path), "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # a test failed
    document = json.loads(done.stdout)
    assert (document["tests"], document["failures"], document["skipped"]) == (3, 1, 1)
    assert document["passed"] is False

    store = EvidenceStore(str(store_path))
    latest = queries.latest_results(store, "payments")
    assert latest is not None and latest.run_id == document["run_id"]
    outcomes = {case.name: case.outcome for case in latest.cases}
    assert outcomes == {"test_charges": "passed", "test_refunds": "failed",
                        "test_chargebacks": "skipped"}
    refunds = next(case for case in latest.cases if case.name == "test_refunds")
    assert "refunded" in refunds.message
    # the run holds the report itself and one observation per test case
    bundle = store.load(document["run_id"])
    assert bundle.run.command == "results" and bundle.run.meta["domain"] == "payments"
    assert [a.name for a in bundle.artifacts] == ["junit: report.xml"]
    assert "<testsuite" in bundle.artifacts[0].content
    assert sorted(o.passed for o in bundle.steps[0].observations) == [False, True, True]
    shown = phasegate("show", document["run_id"], "--store", str(store_path), cwd=tmp_path)
    assert shown.returncode == 0 and "test_refunds" in shown.stdout


def test_a_malformed_report_is_bad_input_at_its_line_and_the_store_stays(
        tmp_path: Path) -> None:
    (tmp_path / "domains.yaml").write_text(DOMAINS)
    store_path = tmp_path / "evidence.db"
    EvidenceStore(str(store_path)).close()
    broken = tmp_path / "broken.xml"
    broken.write_text('<?xml version="1.0"?>\n<testsuite name="x">\n'
                      '  <testcase name="a">\n</testsuite>\n')
    done = phasegate("results", "add", "--domain", "payments", str(broken),
                     "--store", str(store_path), cwd=tmp_path)
    assert done.returncode == 2
    assert f"{broken}:4:3: not well-formed XML: mismatched tag" in done.stderr
    assert "Traceback" not in done.stderr
    not_junit = tmp_path / "plan.xml"
    not_junit.write_text("<plan/>\n")
    done = phasegate("results", "add", "--domain", "payments", str(not_junit),
                     "--store", str(store_path), cwd=tmp_path)
    assert done.returncode == 2 and "the root element is <plan>" in done.stderr
    unknown = phasegate("results", "add", "--domain", "billing", str(broken),
                        "--store", str(store_path), cwd=tmp_path)
    assert unknown.returncode == 2 and "--domain 'billing': no such domain" in unknown.stderr
    store = EvidenceStore(str(store_path))
    assert store.runs() == [] and queries.latest_results(store, "payments") is None


def test_the_schema_of_domains_files_names_every_probe() -> None:
    done = phasegate("schema", "--for", "domains")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["$id"].endswith("/domains-v1.json")
    domain = schema["$defs"]["Domain"]["properties"]
    assert domain["health"]["items"] == {"$ref": "#/$defs/Probe"}
    kinds = {next(iter(v["required"])) for v in schema["$defs"]["Probe"]["oneOf"]}
    assert {"http", "tcp", "k8s.rollout", "tls"} <= kinds


def test_states_history_and_deployments_read_back(any_store: EvidenceStore,
                                                  tmp_path: Path) -> None:
    store = any_store
    name = f"payments-{uuid.uuid4().hex[:8]}"  # the PostgreSQL store is the session's
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)

    def state(value: str, hours: float, cause: str | None = None) -> DomainState:
        return DomainState(name, "down" if cause else value, value, cause, 1, 2,  # type: ignore[arg-type]
                           "why", start + timedelta(hours=hours),
                           ({"probe": "tcp", "observed": "refused"},))

    history.record_changes(store, [state("healthy", 0), state("down", 1),
                                   state("healthy", 2, cause="identity")],
                           [ProbeState(name, "tcp 127.0.0.1:1", "failing",
                                       start + timedelta(hours=1), {"observed": "refused"}),
                            ProbeState(name, "tcp 127.0.0.1:1", "passing",
                                       start + timedelta(hours=2), {"observed": "connected"})])
    now = queries.current(store, [name])[name]
    assert (now.state, now.own_state, now.cause, now.words) == (
        "down", "healthy", "identity", "down (cause: identity)")
    assert now.at == start + timedelta(hours=2)  # since when
    window = queries.history(store, name, start + timedelta(minutes=90))
    assert [(s.own_state, s.at) for s in window] == [
        ("down", start + timedelta(hours=1)), ("healthy", start + timedelta(hours=2))]
    assert window[0].observations == ({"observed": "refused", "probe": "tcp"},)
    assert queries.current_probes(store, name)["tcp 127.0.0.1:1"].state == "passing"
    probes = queries.probe_history(store, name, start + timedelta(minutes=90))
    assert [p.state for p in probes] == ["failing", "passing"]

    (tmp_path / "domains.yaml").write_text(DOMAINS.replace("payments:", f"{name}:"))
    domains = loader.load_domains(tmp_path / "domains.yaml")
    plan_path = str((tmp_path / "plans" / "payments.yaml").resolve())
    run = store.start_run("run", plan_name="payments", plan_path=plan_path)
    store.finish_run(run, "passed")
    store.start_run("run", plan_name="other", plan_path=str(tmp_path / "other.yaml"))
    assert [r.id for r in queries.deployments(store, domains, name)] == [run]
    summary = {s.name: s for s in queries.overview(domains, store)}
    assert summary[name].state is not None and summary[name].state.cause == "identity"
    assert summary[name].owner == "team-payments"
    assert summary["identity"].state is None and summary["identity"].results is None
