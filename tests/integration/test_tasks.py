"""Verified tasks, session reports, retrospectives and patterns — one real story.

The tasks directory in ``tests/data/cluster-rebuild`` tracks a registry move. The story runs
once per module against the real test registry (TLS + basic auth, images pushed by skopeo)
and a TLS endpoint whose certificate first names the old IP and is then regenerated; the
tests assert on what each step really observed, printed and recorded.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from phasegate.cli.app import app
from tests.fixtures.registry import WRONG_IP, Pushed, RegistryPKI, need
from tests.fixtures.servers import git
from tests.fixtures.tls_servers import ReissuableTLS
from tests.integration.cli_helpers import phasegate

DATA = Path(__file__).resolve().parents[1] / "data"
SAN_LACKS = f"SAN lacks 127.0.0.1 (valid for {WRONG_IP}, registry.old.example)"


@dataclass
class Story:
    work: Path
    password: str
    inputs: list[str]
    steps: dict[str, Result] = field(default_factory=dict)
    head_before: str = ""

    @property
    def tasks(self) -> Path:
        return self.work / "tasks"

    @property
    def store(self) -> Path:
        return self.work / "evidence.db"

    def cli(self, name: str, *args: str) -> Result:
        result = CliRunner().invoke(app, list(args), env={
            "REGISTRY_PASSWORD": self.password, "COLUMNS": "200", "PHASEGATE_STORE":
            str(self.store)}, catch_exceptions=False)
        self.steps[name] = result
        return result

    def json(self, name: str) -> Any:
        return json.loads(self.steps[name].stdout)

    def task_text(self, folder: str, prefix: str) -> str:
        return next((self.tasks / folder).glob(f"{prefix}-*.md")).read_text()


def push_tag(pushed: Pushed, source: str, target: str) -> None:
    """A rebuilt image lands in the registry: copy ``source`` to a new tag with skopeo."""
    r = pushed.registry
    creds = f"{r.username}:{r.password}"
    subprocess.run(
        [need("skopeo"), "--insecure-policy", "copy", "--quiet",
         "--src-cert-dir", str(r.certs_dir), "--dest-cert-dir", str(r.certs_dir),
         "--src-creds", creds, "--dest-creds", creds,
         f"docker://{r.host}/{source}", f"docker://{r.host}/{target}"],
        check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def story(registry: Pushed, registry_pki: RegistryPKI, reissuable_tls: ReissuableTLS,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    work = tmp_path_factory.mktemp("cluster-rebuild") / "rebuild"
    shutil.copytree(DATA / "cluster-rebuild", work)
    for folder in ("backlog", "active", "completed"):
        (work / "tasks" / folder).mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    git(work, "config", "user.name", "test")
    git(work, "config", "user.email", "test@localhost")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "cluster rebuild tasks")
    r = registry.registry
    inputs = ["--input", f"registry={r.host}", "--input", f"registry_port={r.port}",
              "--input", f"registry_ca={r.ca}", "--input", f"cert_port={reissuable_tls.port}"]
    s = Story(work, r.password, inputs)
    s.head_before = git(work, "rev-parse", "HEAD")
    smoke = str(work / "plans" / "registry-smoke.yaml")
    d = ("--dir", str(s.tasks))

    s.cli("queue", "tasks", *d, "--json")
    s.cli("verify-101", "tasks", "verify", "CR-101", *d, *inputs, "--json")
    s.cli("verify-102", "tasks", "verify", "CR-102", *d, *inputs, "--json")
    s.cli("verify-103", "tasks", "verify", "CR-103", *d, *inputs)
    s.cli("check-old-cert", "check", smoke, *inputs, "--json")
    s.cli("complete-103-refused", "tasks", "complete", "CR-103", *d, "--json")
    s.cli("start-104-refused", "tasks", "start", "CR-104", *d)
    s.cli("attest-probe-criterion", "tasks", "attest", "CR-103", "1", "--reason", "looks ok",
          *d)

    reissuable_tls.install(registry_pki.server)  # the certificate is regenerated: new IP
    s.cli("attest-103", "tasks", "attest", "CR-103", "2", "--by", "dana", "--reason",
          "old serial is on the CA's revocation list (checked in the CA UI)", *d, "--json")
    s.cli("verify-103-fixed", "tasks", "verify", "CR-103", *d, *inputs, "--json")
    s.cli("complete-103", "tasks", "complete", "CR-103", *d, "--commit", "--json")

    push_tag(registry, "shop/web:2.0", "shop/web:2.1")  # the rebuilt web image is pushed
    s.cli("verify-102-fixed", "tasks", "verify", "CR-102", *d, *inputs, "--json")
    s.cli("complete-102", "tasks", "complete", "CR-102", *d, "--json")
    s.cli("check-new-cert", "check", smoke, *inputs, "--json")
    s.cli("start-104", "tasks", "start", "CR-104", *d, "--json")
    s.cli("verify-104", "tasks", "verify", "CR-104", *d, *inputs, "--json")
    s.cli("next", "tasks", "next", *d, "--json")
    s.cli("show-102", "tasks", "show", "CR-102", *d, "--json")
    yield s


def test_queue_orders_by_priority_then_age_and_names_blockers(story: Story) -> None:
    queue = story.json("queue")
    assert [t["id"] for t in queue["queue"]] == ["CR-101", "CR-102", "CR-103", "CR-106"]
    blocked = {t["id"]: t["blockers"] for t in queue["blocked"]}
    assert blocked == {"CR-104": ["CR-102", "CR-103"], "CR-105": ["CR-104"]}
    assert [t["id"] for t in queue["completed"]] == ["CR-100"]


def test_verification_percentages_come_from_real_probes(story: Story) -> None:
    first = story.json("verify-102")
    assert story.steps["verify-102"].exit_code == 1
    assert first["summary"] == "4 of 6 criteria verified (67%), 2 failing"
    failing = {c["n"]: c["observed"] for c in first["criteria"] if c["status"] == "failed"}
    assert failing == {4: "tag not found: 2.1 in shop/web",
                       6: "missing 1 of 4: shop/web:2.1"}
    fixed = story.json("verify-102-fixed")
    assert story.steps["verify-102-fixed"].exit_code == 0
    assert fixed["summary"] == "6 of 6 criteria verified (100%)"

    registry = story.json("verify-101")  # probes pass; one criterion is for people
    assert registry["summary"] == "4 of 5 criteria verified (80%), 1 awaiting attestation"
    assert story.steps["verify-101"].exit_code == 0


def test_wrong_san_fails_then_the_regenerated_certificate_passes(story: Story) -> None:
    before = story.steps["verify-103"]
    assert before.exit_code == 1
    assert SAN_LACKS in " ".join(before.stdout.split())
    assert "0 of 2 criteria verified (0%), 1 failing, 1 awaiting attestation" in before.stdout
    after = story.json("verify-103-fixed")
    assert after["summary"] == "1 of 2 criteria verified (50%), 1 attested"
    tls, attested = after["criteria"]
    assert tls["status"] == "passed" and tls["observed"].startswith("SAN 127.0.0.1, localhost")
    assert attested["status"] == "attested" and attested["by"] == "dana"


def test_complete_is_refused_until_the_evidence_says_done(story: Story) -> None:
    refused = story.steps["complete-103-refused"]
    assert refused.exit_code == 1
    reasons = story.json("complete-103-refused")["reasons"]
    assert reasons[0].startswith("#1 the served certificate covers 127.0.0.1")
    assert SAN_LACKS in reasons[0] and "failed" in reasons[0]
    assert reasons[1].startswith("#2 the old certificate's serial") and \
        "needs attestation" in reasons[1]

    start = story.steps["start-104-refused"]
    assert start.exit_code == 1 and "blocked by CR-102 (active, high)" in start.stdout
    assert story.json("start-104")["status"] == "passed"  # once both were completed

    done = story.json("complete-103")
    assert story.steps["complete-103"].exit_code == 0 and done["status"] == "passed"
    assert Path(done["path"]) == story.tasks / "completed" / "CR-103-registry-certificate.md"
    assert not (story.tasks / "active" / "CR-103-registry-certificate.md").exists()
    text = story.task_text("completed", "CR-103")
    assert "status: completed" in text and "\ncompleted: 20" in text
    assert "complete refused: #1" in text and "· completed: 1 of 2 criteria verified" in text


def test_complete_commit_commits_only_the_move(story: Story) -> None:
    sha = story.json("complete-103")["commit"]
    assert git(story.work, "rev-parse", "HEAD^") == story.head_before
    assert git(story.work, "log", "-1", "--format=%H %s") == (
        f"{sha} tasks: complete CR-103 — Regenerate the registry certificate for the new IP")
    changed = git(story.work, "show", "--name-status", "--format=", sha).splitlines()
    assert sorted(changed) == ["A\ttasks/completed/CR-103-registry-certificate.md",
                               "D\ttasks/active/CR-103-registry-certificate.md"]


def test_attestation_is_only_for_criteria_no_probe_checks(story: Story) -> None:
    wrong = story.steps["attest-probe-criterion"]
    assert wrong.exit_code == 2
    assert "is checked by the tls probe" in " ".join(wrong.stderr.split())


def test_plan_run_criterion_reads_the_recorded_run(story: Story) -> None:
    assert story.json("check-old-cert")["passed"] is False
    check = story.json("check-new-cert")
    assert check["passed"] is True
    verified = story.json("verify-104")
    assert verified["summary"] == "1 of 1 criteria verified (100%)"
    assert verified["criteria"][0]["observed"].startswith(f"run {check['run_id']} (check) passed")
    assert story.json("next")["next"]["id"] == "CR-101"


def test_edits_keep_formatting_comments_and_unknown_fields(story: Story) -> None:
    original = (DATA / "cluster-rebuild" / "tasks" / "active" /
                "CR-101-registry-reconfiguration.md").read_text()
    now = story.task_text("active", "CR-101")
    assert now.startswith(original.rstrip("\n") + "\n- 20")  # only a log line was added
    started = story.task_text("active", "CR-104")
    before = (DATA / "cluster-rebuild" / "tasks" / "backlog" /
              "CR-104-shop-redeploy.md").read_text()
    front = started.split("\n---\n", 1)[0]
    assert front == before.split("\n---\n", 1)[0].replace(
        "priority: high\n", "priority: high\nstatus: active\nstarted: " +
        front.split("started: ", 1)[1].split("\n", 1)[0] + "\n")
    assert "blocked_by: [CR-102, CR-103]" in front  # flow style kept


def test_show_lists_each_criterion_with_its_evidence(story: Story) -> None:
    shown = story.json("show-102")
    assert shown["folder"] == "completed" and shown["tally"]["percent"] == 100
    assert [c["status"] for c in shown["criteria"]] == ["passed"] * 6
    assert any("verify: 4 of 6 criteria verified (67%)" in line for line in shown["log"])


def test_secrets_never_reach_files_store_or_reports(story: Story) -> None:
    report = story.cli("report", "report", "session", "--since", "1h", "--dir",
                       str(story.tasks))
    assert report.exit_code == 0
    texts = [report.stdout, *(p.read_text() for p in story.tasks.rglob("*.md"))]
    texts += [json.dumps(json.loads(r.stdout)) for r in story.steps.values()
              if r.stdout.startswith("{")]
    assert all(story.password not in text for text in texts)
    with sqlite3.connect(story.store) as db:
        rows = db.execute("select meta from runs").fetchall() + db.execute(
            "select params || detail || observed || data from observations").fetchall()
    assert all(story.password not in str(row) for row in rows)
    assert "******" in str(rows)  # the password parameter was recorded, masked


def test_session_report_tells_what_happened(story: Story) -> None:
    result = story.cli("session-json", "report", "session", "--since", "1h", "--dir",
                       str(story.tasks), "--json")
    facts = json.loads(result.stdout)
    processed = {t["id"]: t["outcome"] for t in facts["tasks_processed"]}
    assert processed["CR-103"] == processed["CR-102"] == "completed"
    assert processed["CR-101"].startswith("verified: 4 of 5 criteria verified (80%)")
    m = facts["metrics"]
    assert (m["tasks_completed"], m["completions_refused"]) == (2, 1)
    assert m["runs_by_command"]["tasks verify"] == 6
    assert m["criteria_attested"] == 1 and m["criteria_verified"] == 12
    issues = {(i["subject"], i["check"]): i for i in facts["critical_issues"]}
    san = issues[("CR-103", "registry certificate")]
    assert san["observed"] == SAN_LACKS and san["resolved_by"].startswith("tasks verify run")
    assert "tls" in san["recommendation"]
    tag = next(i for i in facts["critical_issues"] if i["observed"].startswith("tag not found"))
    assert tag["resolved"] is not None and tag["time_to_fix"] > 0
    assert [t["id"] for t in facts["next"]] == ["CR-101", "CR-104", "CR-106"]
    assert [t["id"] for t in facts["blocked"]] == ["CR-105"]

    text = story.cli("session-md", "report", "session", "--since", "1h", "--dir",
                     str(story.tasks)).stdout
    for heading in ("## Executive summary", "## Tasks processed", "## Verification results",
                    "## Timeline", "## Metrics", "## Critical issues", "## Blocked tasks",
                    "## Next priorities", "## Backlog status"):
        assert heading in text
    assert "2 completed (CR-102, CR-103); 1 completion refused for want of evidence" in text
    assert "| CR-101 | critical | active | 4/5 verified (80%) | 0 | — |" in text
    assert "| CR-105 | medium | backlog | never verified | 0 | CR-104 |" in text


def test_retro_of_a_failed_check_recommends_a_tls_criterion(story: Story) -> None:
    failed_run = story.json("check-old-cert")["run_id"]
    result = story.cli("retro", "retro", failed_run)
    assert result.exit_code == 0
    text = result.stdout
    assert f"Run `{failed_run}` (`check`): **failed**" in text
    assert SAN_LACKS in text
    assert "add a `tls` criterion with the expected SANs" in text
    assert "- [ ] Fix `registry certificate covers 127.0.0.1`" in text
    passed_run = story.json("check-new-cert")["run_id"]
    facts = json.loads(story.cli("retro-json", "retro", passed_run, "--json",
                                 "--budget", "R=1ms").stdout)
    assert facts["went_well"][0]["step"] == "reality check"
    assert facts["metrics"]["gates_passed_first_time"] == 1
    assert facts["metrics"]["stages"][0]["over"] is True
    assert facts["alignment"]["drift"] == []


def test_patterns_recur_across_runs_and_are_never_duplicated(story: Story) -> None:
    out = story.work / "notes"
    first = json.loads(story.cli("patterns", "patterns", "--out", str(out), "--json").stdout)
    san = next(p for p in first["patterns"] if p["signature"] == "tls/tls-san-mismatch")
    assert san["id"] == "PAT-001" and san["runs"] == 2 and san["new"]
    assert san["subjects"] == ["CR-103", "registry-smoke"]
    patterns_md = (out / "PATTERNS.md").read_text()
    assert "## PAT-001 · `tls` · certificate does not cover the address" in patterns_md
    improvements = (out / "IMPROVEMENTS.md").read_text()
    assert "- status: open" in improvements
    (out / "IMPROVEMENTS.md").write_text(improvements.replace("- status: open",
                                                              "- status: accepted", 1))
    (out / "PATTERNS.md").write_text(patterns_md.replace(
        "- improvement: IMP-001", "- improvement: IMP-001\n- note: the CA script now asks "
        "for the IP", 1))

    again = json.loads(story.cli("patterns-again", "patterns", "--out", str(out),
                                 "--json").stdout)
    assert [p["id"] for p in again["patterns"]] == [p["id"] for p in first["patterns"]]
    assert not any(p["new"] for p in again["patterns"])
    patterns_md = (out / "PATTERNS.md").read_text()
    assert patterns_md.count("## PAT-001 ") == 1
    assert "- note: the CA script now asks for the IP" in patterns_md
    assert (out / "IMPROVEMENTS.md").read_text().count("## IMP-001 ") == 1
    assert "- status: accepted" in (out / "IMPROVEMENTS.md").read_text()


def test_the_real_executable_exits_1_on_failing_criteria_and_2_on_a_cycle(
    story: Story, tmp_path: Path
) -> None:
    env = {"REGISTRY_PASSWORD": story.password}
    shutil.copytree(DATA / "tasks-cycle", tmp_path / "tasks")
    cycle = phasegate("tasks", "--dir", str(tmp_path / "tasks"), "--store",
                      str(tmp_path / "e.db"), env=env)
    assert cycle.returncode == 2
    assert "dependency cycle: CY-1 → CY-3 → CY-2 → CY-1" in " ".join(cycle.stderr.split())
    assert "CY-1-drain-nodes.md:6:14: blocked_by[0]" in cycle.stderr
    failing = phasegate("tasks", "verify", "CR-101", "--dir", str(story.tasks), "--store",
                        str(tmp_path / "e.db"), *story.inputs[:-2], "--input",
                        "registry_port=1", env=env)
    assert failing.returncode == 1, failing.stderr
    assert "3 of 5 criteria verified (60%), 1 failing, 1 awaiting attestation" in failing.stdout
