"""The CLI as users meet it: exit codes, one-paragraph errors, evidence in three formats."""

from __future__ import annotations

import html
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.fixtures.servers import HttpService
from tests.integration.cli_helpers import phasegate


def test_probe_passes_against_a_live_server(http_service: HttpService, tmp_path: Path) -> None:
    spec = f'{{http: {{url: "{http_service.url}/health", status: 200}}}}'
    result = phasegate("probe", spec, "--store", str(tmp_path / "e.db"))
    assert result.returncode == 0, result.stderr
    assert "gate passed" in result.stdout


def test_probe_fails_on_a_closed_port_saying_connection_refused(
    closed_port: int, tmp_path: Path
) -> None:
    spec = f'{{http: {{url: "http://127.0.0.1:{closed_port}/health", status: 200}}}}'
    result = phasegate("probe", spec, "--json", "--store", str(tmp_path / "e.db"))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["observations"][0]["observed"] == "connection refused"


def test_probe_with_timeout_waits_as_a_gate(closed_port: int, tmp_path: Path) -> None:
    spec = f"{{tcp: {{host: 127.0.0.1, port: {closed_port}}}, interval: 100ms}}"
    result = phasegate("probe", spec, "--timeout", "700ms", "--json",
                       "--store", str(tmp_path / "e.db"))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["outcome"] == "timed_out" and document["attempts"] >= 3


PLAN = """apiVersion: phasegate/v1
kind: Plan
metadata: {{name: shop}}
assumptions:
  probes:
    - http: {{url: "{url}/health", json: {{"$.status": ok}}}}
      name: health
    - tcp: {{host: 127.0.0.1, port: {closed}}}
      name: db port
"""


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "empty"),
        ("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: x}\nvalidate:\n"
         "  - k8s.rolout: {kind: Deployment}\n", "plan.yaml:5:5: validate[0]: unknown probe"),
        ("apiVersion: [\n", "YAML syntax error"),
        (b"\x00\x01\x02binary", "binary file"),
    ],
)
def test_bad_plans_exit_2_with_one_paragraph(
    tmp_path: Path, content: str | bytes, words: str
) -> None:
    plan = tmp_path / "plan.yaml"
    if isinstance(content, bytes):
        plan.write_bytes(content)
    else:
        plan.write_text(content)
    result = phasegate("check", str(plan), "--store", str(tmp_path / "e.db"))
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 3  # one paragraph, wrapped


def test_missing_plan_file_exits_2(tmp_path: Path) -> None:
    result = phasegate("check", str(tmp_path / "nope.yaml"), "--store", str(tmp_path / "e.db"))
    assert result.returncode == 2 and "plan file not found" in result.stderr


def test_check_records_evidence_in_three_formats_with_the_same_facts(
    http_service: HttpService, closed_port: int, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(url=http_service.url, closed=closed_port))
    store = ["--store", str(tmp_path / "e.db")]
    result = phasegate("check", str(plan), *store)
    assert result.returncode == 1
    assert "gate failed" in result.stdout

    listed = json.loads(phasegate("runs", "--json", *store).stdout)["runs"]
    run_id = listed[0]["id"]
    assert listed[0]["status"] == "failed"

    for fmt in ("md", "json", "junit", "html"):
        out = tmp_path / f"evidence.{fmt}"
        written = phasegate("evidence", run_id[:15], "--format", fmt, "-o", str(out), *store)
        assert written.returncode == 0, written.stderr
    facts = json.loads((tmp_path / "evidence.json").read_text())
    checks = {c["name"]: c for c in facts["steps"][0]["checks"]}
    assert checks["health"]["passed"] and not checks["db port"]["passed"]
    assert checks["db port"]["observed"] == "connection refused"

    markdown = (tmp_path / "evidence.md").read_text()
    for check in checks.values():
        assert check["expected"] in markdown and check["observed"] in markdown

    page = (tmp_path / "evidence.html").read_text()
    for check in checks.values():
        assert html.escape(check["expected"]) in page and html.escape(check["observed"]) in page
    assert "<script" not in page

    suite = ET.parse(tmp_path / "evidence.junit").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "connection refused" in failure.get("message", "")


def test_show_and_unknown_run(tmp_path: Path, http_service: HttpService) -> None:
    store = ["--store", str(tmp_path / "e.db")]
    phasegate("probe", f"{{tcp: {{host: 127.0.0.1, port: {http_service.port}}}}}", *store)
    shown = phasegate("show", "latest", "--json", *store)
    assert json.loads(shown.stdout)["run"]["status"] == "passed"
    missing = phasegate("show", "nope", *store)
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr


def test_schema_is_json_schema_with_every_probe(tmp_path: Path) -> None:
    schema = json.loads(phasegate("schema").stdout)
    variants = schema["$defs"]["Probe"]["oneOf"]
    kinds = {next(iter(v["required"])) for v in variants}
    assert {"http", "tcp", "dns", "command", "file", "git"} <= kinds


def test_runs_lists_every_status_including_refused(tmp_path: Path) -> None:
    from phasegate.store.evidence import EvidenceStore

    store = EvidenceStore(str(tmp_path / "e.db"))
    for status in ("refused", "interrupted", "some-new-status"):
        store.finish_run(store.start_run("apply", plan_name="p"), status, f"[{status}] summary")
    listed = phasegate("runs", "--store", str(tmp_path / "e.db"))
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    for status in ("refused", "interrupted", "some-new-status"):
        assert status in listed.stdout
    shown = phasegate("show", "latest", "--store", str(tmp_path / "e.db"))
    assert shown.returncode == 0 and "some-new-status" in shown.stdout


def test_html_evidence_escapes_what_it_observed(tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "e.db")]
    spec = "{command: {run: [echo, '<script>alert(1)</script>'], stdout: nothing-like-this}}"
    assert phasegate("probe", spec, *store).returncode == 1
    page = phasegate("evidence", "latest", "-f", "html", *store).stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page


def test_resume_refuses_runs_that_are_not_plan_runs(
    http_service: HttpService, closed_port: int, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(url=http_service.url, closed=closed_port))
    store = ["--store", str(tmp_path / "e.db")]
    assert phasegate("check", str(plan), *store).returncode == 1
    resumed = phasegate("resume", "latest", *store)
    assert resumed.returncode == 2
    assert "cannot be resumed" in resumed.stderr and "phasegate check" in resumed.stderr


def test_large_gates_show_their_failures_not_a_wall_of_passes(tmp_path: Path) -> None:
    probes = "".join(f"    - file: {{path: plan.yaml}}\n      name: present-{n}\n"
                     for n in range(59))
    probes += "    - file: {path: gone.yaml}\n      name: the-missing-one\n"
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: big}\n"
                    f"assumptions:\n  probes:\n{probes}")
    result = phasegate("check", str(plan), "--store", str(tmp_path / "e.db"))
    assert result.returncode == 1
    assert "the-missing-one" in result.stdout and "present-3 " not in result.stdout
    assert "59 more checks not shown" in result.stdout
    assert "59/60 passed" in result.stdout


def test_markdown_evidence_shows_step_details_and_no_empty_tables(tmp_path: Path) -> None:
    from phasegate import reports
    from phasegate.store.evidence import EvidenceStore

    store = EvidenceStore(str(tmp_path / "e.db"))
    run = store.start_run("apply", plan_name="p")
    step = store.start_step(run, "I", "phase 1: db · apply")
    store.finish_step(step, "passed", "StatefulSet shop/db created, Service shop/db created")
    store.finish_run(run, "passed")
    text = reports.render(store.load(run), "md")
    assert "StatefulSet shop/db created, Service shop/db created" in text
    assert "| check | result" not in text


def _alias_bomb(indent: str = "") -> str:
    """Nine levels of nine aliases: 9**9 (387 million) strings once expanded."""
    lines = [f'{indent}a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"{indent}a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_in_a_plan_is_refused_with_its_place(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: bomb}\n"
                    "x-bomb:\n" + _alias_bomb("  "))
    result = phasegate("check", str(plan), "--store", str(tmp_path / "e.db"), timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"{plan}:14:" in result.stderr  # the outermost anchor, &a9
    assert "alias" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 3


def test_a_yaml_alias_bomb_in_a_task_file_is_refused_with_its_place(tmp_path: Path) -> None:
    backlog = tmp_path / "tasks" / "backlog"
    backlog.mkdir(parents=True)
    task = backlog / "OPS-1-bomb.md"
    task.write_text("---\nid: OPS-1\ntitle: bomb\npriority: high\ncreated: 2026-11-20\n"
                    + _alias_bomb() + "criteria:\n  - text: x\n    verify: attest\n---\n")
    result = phasegate("tasks", "list", "--dir", str(tmp_path / "tasks"), "--store",
                       str(tmp_path / "e.db"), timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"{task}:15" in result.stderr  # the line of &a9 in the file, '---' counted
    assert "alias" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 3


def test_two_checks_with_one_display_name_are_both_exported(tmp_path: Path) -> None:
    """Two `file` probes on one path are named alike; the failing one must not vanish."""
    (tmp_path / "values.yaml").write_text("replicas: 3\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: twins}\n"
                    "assumptions:\n  probes:\n"
                    "    - file: {path: values.yaml, markers: ['replicas:']}\n"
                    "    - file: {path: values.yaml, markers: ['image:']}\n")
    store = ["--store", str(tmp_path / "e.db")]
    gate = phasegate("check", str(plan), *store)
    assert gate.returncode == 1, gate.stderr
    for fmt in ("md", "json", "junit"):
        written = phasegate("evidence", "latest", "--format", fmt, "-o",
                            str(tmp_path / f"evidence.{fmt}"), *store)
        assert written.returncode == 0, written.stderr
    facts = json.loads((tmp_path / "evidence.json").read_text())
    assert sorted(c["passed"] for c in facts["steps"][0]["checks"]) == [False, True]
    assert (facts["totals"]["passed"], facts["totals"]["failed"]) == (1, 1)
    suite = ET.parse(tmp_path / "evidence.junit").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert "1 passed, 1 failed" in (tmp_path / "evidence.md").read_text()


def test_json_evidence_carries_structured_data_and_matches_its_schema(
        http_service: HttpService, tmp_path: Path) -> None:
    import jsonschema

    (tmp_path / "values.yaml").write_text("replicas: 3\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: data}\n"
                    "assumptions:\n  probes:\n"
                    "    - file: {path: values.yaml, markers: ['replicas:']}\n"
                    f"    - http: {{url: '{http_service.url}/health', status: 200}}\n")
    store = ["--store", str(tmp_path / "e.db")]
    assert phasegate("check", str(plan), *store).returncode == 0
    exported = phasegate("evidence", "latest", "--format", "json", *store)
    assert exported.returncode == 0, exported.stderr
    facts = json.loads(exported.stdout)
    checks = {c["probe"]: c for c in facts["steps"][0]["checks"]}
    assert checks["file"]["data"] == {"size": len("replicas: 3\n")}
    assert checks["http"]["data"]["status"] == 200
    schema = phasegate("schema", "--for", "evidence")
    assert schema.returncode == 0, schema.stderr
    jsonschema.Draft202012Validator(json.loads(schema.stdout)).validate(facts)


def test_probe_expands_env_placeholders_as_plans_do_and_masks_them(
    http_service: HttpService, tmp_path: Path
) -> None:
    store = ["--store", str(tmp_path / "e.db")]
    env = {"PG_PROBE_BASE": http_service.url}
    spec = '{http: {url: "${env:PG_PROBE_BASE}/health", status: 200}}'
    result = phasegate("probe", spec, "--json", *store, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["observations"][0]["passed"] is True
    exported = phasegate("evidence", "latest", "-f", "md", *store)
    for text in (result.stdout, result.stderr, exported.stdout):
        assert http_service.url not in text  # an environment value is a secret
    missing = phasegate("probe", '{http: {url: "${env:PG_PROBE_UNSET}/x"}}', *store)
    assert missing.returncode == 2
    assert "<probe>:1:14: http.url: environment variable PG_PROBE_UNSET is not set" in \
        missing.stderr
    literal = phasegate("probe", '{file: {path: "/nowhere/$${env:HOME}"}}', "--json", *store)
    assert json.loads(literal.stdout)["observations"][0]["name"] == "file /nowhere/${env:HOME}"


def test_probe_takes_inputs_as_plans_do(tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "e.db")]
    (tmp_path / "values.yaml").write_text("where: /etc/hostname\n")
    spec = '{file: {path: "${input.where}"}}'
    assert phasegate("probe", spec, "-i", f"@{tmp_path / 'values.yaml'}", *store).returncode == 0
    missing = phasegate("probe", spec, *store)
    assert missing.returncode == 2 and "input 'where' is not given" in missing.stderr
