"""``phasegate serve`` as a real process over stores filled by real runs: every page, the
filters, the token, SQLite and PostgreSQL, and secrets never shown."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from phasegate.sandbox import SandboxInfo
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.web import metrics
from tests.fixtures.dashboard import FilledStore, Served, serve
from tests.fixtures.prometheus import key, labelled, samples
from tests.fixtures.servers import HttpService
from tests.integration.cli_helpers import phasegate
from tests.integration.test_secrets_never_leak import PLAN as LEAKY_PLAN
from tests.integration.test_secrets_never_leak import SECRET, forms


def text(url: str, **kwargs: object) -> str:
    answer = httpx.get(url, timeout=30, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 200, f"{url}: {answer.status_code} {answer.text[:400]}"
    return answer.text


def plain(html: str) -> str:
    """What a person reads: tags dropped, entities of quotes undone, spaces collapsed."""
    words = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&quot;", '"')
    return " ".join(words.split())


@pytest.mark.cluster
def test_every_page_shows_what_real_runs_recorded(dashboard_store: FilledStore,
                                                  served: list[Served]) -> None:
    server = serve("--store", dashboard_store.url, "--tasks", str(dashboard_store.tasks))
    served.append(server)
    base = server.url
    listed = plain(text(f"{base}runs"))
    assert dashboard_store.passed in listed and dashboard_store.failed in listed
    assert "quota-rollback" in listed and "tasks verify" in listed
    only_failed = plain(text(f"{base}runs", params={"status": "failed", "command": "run"}))
    assert dashboard_store.failed in only_failed and dashboard_store.passed not in only_failed
    by_plan = plain(text(f"{base}runs", params={"plan": "DASH-1", "since": "1h"}))
    assert "tasks verify" in by_plan and dashboard_store.passed not in by_plan
    assert "No run matches" in plain(text(f"{base}runs", params={"since": "2999-01-01"}))
    assert httpx.get(f"{base}runs", params={"since": "soon"}).status_code == 400

    passed = plain(text(f"{base}runs/{dashboard_store.passed}"))
    for stage in ("R · reality check", "P · plan", "I · implementation", "V · validation"):
        assert stage in passed
    assert "phase 3: frontends" in passed and "attempt" in passed
    assert "Deployment record" in passed and "Components" in passed

    failed = plain(text(f"{base}runs/{dashboard_store.failed}"))
    assert "What failed" in failed and "exceeded quota" in failed
    assert "Diagnostics" in failed or "rolled back" in failed
    evidence = plain(text(f"{base}runs/{dashboard_store.failed}/evidence"))
    assert f"Evidence — run {dashboard_store.failed}" in evidence and "k8s.rollout" in evidence
    retro = plain(text(f"{base}runs/{dashboard_store.failed}/retro"))
    assert "Retrospective" in retro and "exceeded quota" in retro
    exported = text(f"{base}runs/{dashboard_store.passed}/export.junit")
    assert exported.startswith("<?xml") and "testsuite" in exported
    assert httpx.get(f"{base}runs/no-such-run").status_code == 404

    board = plain(text(f"{base}tasks"))
    assert "DASH-1" in board and "1 of 2 verified (50%)" in board and "1 failing" in board
    assert "waits for DASH-1" in board and "1 of 3 criteria verified (33%)" in board
    timeline = text(f"{base}fragments/runs/{dashboard_store.passed}/timeline")
    assert "R · reality check" in timeline
    assert httpx.get(f"{base}fragments/runs/{dashboard_store.passed}/timeline"
                     ).headers.get("x-live-done") == "1"  # finished: nothing will change
    assert "Recurring patterns" in plain(text(f"{base}patterns"))


@pytest.mark.cluster
def test_domain_pages_show_health_history_deploys_and_tests(dashboard_store: FilledStore,
                                                             served: list[Served]) -> None:
    server = serve("--store", dashboard_store.url, "--tasks", str(dashboard_store.tasks),
                   "--domains", str(dashboard_store.domains))
    served.append(server)
    assert httpx.get(server.url).headers["location"] == "/domains"
    overview = text(f"{server.url}domains")
    assert 'href="/domains/shop"' in overview and 'href="/domains/identity"' in overview
    words = plain(overview)
    assert "shop healthy since" in words and "shop-team · needs identity" in words
    assert "2 deploys today" in words and "tests: 2, 1 failing" in words
    assert overview.count('class="marker') == 2 * 2  # two runs: a link and a mark each
    assert f'href="/runs/{dashboard_store.failed}"' in overview
    assert 'class="bad down"' in overview  # the two hours shop was down, on its strip

    page = text(f"{server.url}domains/shop")
    words = plain(page)
    assert "shop healthy" in words and "the storefront and its backend" in words
    assert "passing backend rolled out" in words and "passing storefront switched on" in words
    assert dashboard_store.passed in words and dashboard_store.failed in words
    assert "2 tests, 1 failing" in words and "test_refund_rounding" in words
    assert "refund rounds half up" in words
    assert "DASH-1 #1 the shop plan file is in the repository" in words
    assert httpx.get(f"{server.url}domains/nowhere").status_code == 404


@pytest.mark.cluster
def test_metrics_count_what_the_store_holds(dashboard_store: FilledStore, cluster: SandboxInfo,
                                            served: list[Served]) -> None:
    health = phasegate("health", "--json", "--domains", str(dashboard_store.domains),
                       "--kubeconfig", str(cluster.kubeconfig), "--store", dashboard_store.url)
    assert health.returncode in (0, 1), health.stdout + health.stderr
    server = serve("--store", dashboard_store.url, "--domains", str(dashboard_store.domains))
    served.append(server)
    scraped = httpx.get(f"{server.url}metrics", timeout=30)
    assert scraped.status_code == 200, scraped.text[:400]
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(scraped.text)  # a real Prometheus parser: malformed text raises

    store = EvidenceStore(dashboard_store.url, reader=True)
    held = Counter((r.plan_name or "", r.command, metrics.label(r.status))
                   for r in store.find_runs() if r.status != "running")
    counted = {(dict(labels)["plan"], dict(labels)["command"], dict(labels)["status"]): value
               for labels, value in labelled(found, "phasegate_runs_total").items()}
    assert counted == held
    assert counted[("quota-rollback", "run", "passed")] == 1
    assert counted[("quota-rollback", "run", "failed")] == 1
    assert counted[("DASH-1", "tasks verify", "failed")] == 1

    gates = [step for run in (dashboard_store.passed, dashboard_store.failed)
             for step in store.load(run).steps if step.kind == records.GATE]
    store.close()
    outcomes = Counter((step.stage, metrics.label(step.status)) for step in gates)
    assert outcomes[("R", "passed")] == 2  # each run's reality check (the quota refuses an
    assert outcomes[("V", "passed")] == 1  # apply, not a gate; only the passing run validates)
    assert {(dict(labels)["stage"], dict(labels)["outcome"]): value for labels, value in
            labelled(found, "phasegate_gate_results_total").items()
            if dict(labels)["plan"] == "quota-rollback"} == outcomes
    for stage in {step.stage for step in gates}:
        took = [(s.finished - s.started).total_seconds() for s in gates
                if s.stage == stage and s.finished is not None]
        histogram = key("phasegate_gate_duration_seconds_count", plan="quota-rollback",
                        stage=stage)
        assert found[histogram] == len(took)
        summed = found[key("phasegate_gate_duration_seconds_sum", plan="quota-rollback",
                           stage=stage)]
        assert abs(summed - sum(took)) <= 0.002 * len(took)  # SQLite's clock: milliseconds
        for bound in metrics.BUCKETS:
            within = found[key("phasegate_gate_duration_seconds_bucket", plan="quota-rollback",
                               stage=stage, le=f"{bound:g}")]
            assert (sum(t <= bound - 0.002 for t in took) <= within
                    <= sum(t <= bound + 0.002 for t in took)), (stage, bound)

    said = {domain["name"]: domain for domain in json.loads(health.stdout)["domains"]}
    assert set(said) == {"identity", "shop"}
    for name, domain in said.items():
        assert {state: found[key("phasegate_domain_state", domain=name, state=state)]
                for state in ("healthy", "degraded", "down", "unknown")
                } == {state: float(state == domain["state"])
                      for state in ("healthy", "degraded", "down", "unknown")}
        since = found[key("phasegate_domain_state_since_timestamp_seconds", domain=name)]
        assert abs(since - datetime.fromisoformat(domain["since"]).timestamp()) < 0.001
    for run_id in (dashboard_store.passed, dashboard_store.failed):
        assert run_id not in scraped.text  # labels are bounded: no run ids


def test_on_postgresql_too(postgres_url: str, http_service: HttpService, tmp_path: Path,
                           served: list[Served]) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(LEAKY_PLAN.format(url=http_service.url).replace("leak-test", "team-pg"))
    for _ in range(2):  # the same failure twice: a recurring pattern
        checked = phasegate("check", str(plan), "--json", "--store", postgres_url,
                            env={"PG_LEAK_TOKEN": SECRET})
        assert checked.returncode == 1, checked.stdout + checked.stderr
    server = serve("--store", postgres_url)
    served.append(server)
    listed = plain(text(f"{server.url}runs", params={"plan": "team-pg"}))
    run_id = re.findall(r"\d{8}-\d{6}-[0-9a-f]{6}", listed)[0]
    pages = [text(f"{server.url}runs", params={"plan": "team-pg"}),
             text(f"{server.url}runs/{run_id}"), text(f"{server.url}runs/{run_id}/evidence"),
             text(f"{server.url}runs/{run_id}/retro"), text(f"{server.url}patterns")]
    pages += [text(f"{server.url}runs/{run_id}/export.{fmt}") for fmt in ("md", "json", "html")]
    pages.append(text(f"{server.url}metrics"))
    found = samples(pages[-1])  # durations in PostgreSQL's SQL, not SQLite's
    assert found[key("phasegate_runs_total", plan="team-pg", command="check",
                     status="failed")] == 2
    assert found[key("phasegate_gate_results_total", plan="team-pg", stage="R",
                     outcome="failed")] == 2
    assert found[key("phasegate_gate_duration_seconds_count", plan="team-pg", stage="R")] == 2
    assert found[key("phasegate_gate_duration_seconds_sum", plan="team-pg", stage="R")] > 0
    assert "command" in plain(pages[1]) and "******" in "".join(pages)
    assert "team-pg" in plain(pages[4])  # the failure recurs across both runs
    for page in pages:
        for form in forms():
            assert form not in page


def test_the_token_is_asked_on_every_request_and_never_shown(tmp_path: Path,
                                                              served: list[Served]) -> None:
    store = tmp_path / "e.db"
    probed = phasegate("probe", f"{{file: {{path: '{store}'}}}}", "--store", str(store))
    assert probed.returncode == 0, probed.stdout + probed.stderr
    token = "dashboard-t0ken-5e3c2f"
    server = serve("--store", str(store), env={"PHASEGATE_TOKEN": token})
    served.append(server)
    for path in ("runs", "static/style.css", "runs/latest", "healthz", "metrics"):
        refused = httpx.get(f"{server.url}{path}")
        assert refused.status_code == 401 and "needs its token" in refused.text
        wrong = httpx.get(f"{server.url}{path}", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert httpx.get(f"{server.url}{path}",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with httpx.Client(base_url=server.url) as browser:
        assert browser.post("/login", data={"token": "guess"}).status_code == 401
        signed = browser.post("/login", data={"token": token})
        assert signed.status_code == 303
        page = browser.get("/runs")
        assert page.status_code == 200 and token not in page.text
    assert token not in server.output()


def test_refusals_are_one_paragraph_and_exit_2(tmp_path: Path) -> None:
    beyond = phasegate("serve", "--host", "0.0.0.0", "--store", str(tmp_path / "e.db"))
    assert beyond.returncode == 2 and "--host 0.0.0.0" in beyond.stderr
    assert "token" in beyond.stderr and "Traceback" not in beyond.stderr
    missing = phasegate("serve", "--store", str(tmp_path / "nowhere.db"))
    assert missing.returncode == 2 and "no evidence store at" in missing.stderr
    assert not (tmp_path / "nowhere.db").exists()
