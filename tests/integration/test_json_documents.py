"""Every ``--json`` document carries ``schema_version``, whichever command printed it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import typer

from phasegate.cli import app, documents
from tests.integration.cli_helpers import PHASEGATE, phasegate

TASK = ("---\nid: OPS-1\ntitle: the hostname file\npriority: high\ncreated: 2026-11-20\n"
        "criteria:\n  - text: the hostname is there\n    verify: {file: {path: /etc/hostname}}\n"
        "  - text: someone looked\n    verify: attest\n---\n")
PLAN = ("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: files}\n"
        "assumptions:\n  probes:\n    - file: {path: /etc/hostname}\n")

# Every command that takes --json, with arguments that make it print its document offline.
COMMANDS: dict[str, list[str]] = {
    "probe": ["probe", "{file: {path: /etc/hostname}}"],
    "check": ["check", "plan.yaml"],
    "run": ["run", "plan.yaml", "--level", "contract"],
    "runs": ["runs"],
    "show": ["show", "latest"],
    # `evidence RUN` is `evidence export RUN`: the default subcommand, as people type it
    "evidence export": ["evidence", "latest", "-f", "md"],
    "evidence bundle": ["evidence", "bundle", "latest", "-o", "bundle.tar.gz"],
    "version": ["version"],
    "retro": ["retro", "latest"],
    "patterns": ["patterns", "--out", "out"],
    "report session": ["report", "session"],
    "tasks": ["tasks"],
    "tasks list": ["tasks", "list"],
    "tasks next": ["tasks", "next"],
    "tasks show": ["tasks", "show", "OPS-1"],
    "tasks verify": ["tasks", "verify", "OPS-1"],
    "tasks attest": ["tasks", "attest", "OPS-1", "2", "--reason", "looked at it"],
    "tasks start": ["tasks", "start", "OPS-1"],
    "tasks complete": ["tasks", "complete", "OPS-1"],
    "sandbox status": ["sandbox", "status"],
    "doctor": ["doctor"],
    "health": ["health"],
    "results add": ["results", "add", "--domain", "files", "junit.xml"],
    "domains affected": ["domains", "affected", "--base", "HEAD"],
    "ci init": ["ci", "init", "--github", "--plan", "plan.yaml", "-o", "ci.yml"],
    "suite convert": ["suite", "convert", "kuttl", "-o", "plans"],
}
# These need a cluster (or start one) to print anything but an error document; their
# documents are checked by the cluster tests.
NEEDS_A_CLUSTER = {"tracer", "plan", "apply", "validate", "resume", "sandbox up",
                   "sandbox down", "suite run"}
# This one needs two registries: tests/integration/test_images_mirror.py checks its document.
NEEDS_REGISTRIES = {"images mirror"}
# This one prints its document when it starts serving, then serves until stopped: below.
SERVES = {"serve"}
# These ask a run (or a fleet) on a Temporal server: tests/integration/test_temporal_engine.py
# and test_fleet.py run them and read their documents.
NEEDS_TEMPORAL = {"approve", "reject", "cancel", "fleet run", "fleet status", "fleet cancel"}
DOMAINS = ("apiVersion: phasegate/v1\nkind: Domains\ndomains:\n  files:\n    owner: ops\n"
           "    health:\n      - file: {path: /etc/hostname}\n")
JUNIT = ('<?xml version="1.0"?>\n<testsuite name="t" tests="1" failures="0">'
         '<testcase classname="a" name="b"/></testsuite>\n')


def json_commands() -> set[str]:
    found: set[str] = set()

    def walk(command: object, path: tuple[str, ...]) -> None:
        params = getattr(command, "params", [])
        if any("--json" in getattr(p, "opts", []) for p in params) and path:
            found.add(" ".join(path))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app.app), ())
    return found


def test_every_json_command_is_covered_here() -> None:
    assert json_commands() == (set(COMMANDS) | NEEDS_A_CLUSTER | NEEDS_REGISTRIES | SERVES
                               | NEEDS_TEMPORAL)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("project")
    (here / "plan.yaml").write_text(PLAN)
    (here / "tasks" / "backlog").mkdir(parents=True)
    (here / "tasks" / "backlog" / "OPS-1.md").write_text(TASK)
    (here / "phasegate.toml").write_text('store = "e.db"\nreports = "reports"\n')
    (here / "domains.yaml").write_text(DOMAINS)
    (here / "junit.xml").write_text(JUNIT)
    (here / "kuttl" / "a").mkdir(parents=True)
    (here / "kuttl" / "a" / "00-assert.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    assert phasegate("probe", "{file: {path: /etc/hostname}}", cwd=here).returncode == 0
    for git in (["init", "-q"], ["add", "domains.yaml"], ["commit", "-q", "-m", "domains"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *git],
                       cwd=here, check=True, capture_output=True)  # domains affected: a diff
    return here


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_document_carries_its_schema_version(name: str, project: Path) -> None:
    result = phasegate(*COMMANDS[name], "--json", cwd=project)
    document = json.loads(result.stdout)
    assert "error" not in document, document
    assert document["schema_version"] == documents.SCHEMA_VERSION
    assert next(iter(document)) == "schema_version"


def test_the_document_serve_prints_when_it_listens_carries_it(project: Path) -> None:
    with subprocess.Popen([PHASEGATE, "serve", "--port", "0", "--json"], cwd=project,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          env={**os.environ, "COLUMNS": "200"}) as server:
        try:
            assert server.stdout is not None
            lines = [server.stdout.readline()]
            while not lines[-1].startswith("}"):
                assert lines[-1], "serve ended before its document was whole"
                lines.append(server.stdout.readline())
        finally:
            server.terminate()
    document = json.loads("".join(lines))
    assert next(iter(document)) == "schema_version"
    assert document["schema_version"] == documents.SCHEMA_VERSION and document["url"]


def test_an_error_document_carries_it_too(tmp_path: Path) -> None:
    result = phasegate("show", "nope", "--json", "--store", str(tmp_path / "e.db"))
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["schema_version"] == documents.SCHEMA_VERSION and document["error"]


def test_report_files_in_json_carry_it(project: Path) -> None:
    for command in (["retro", "latest"], ["report", "session"]):
        written = phasegate(*command, "-f", "json", "-o", "facts.json", cwd=project)
        assert written.returncode == 0, written.stderr
        facts = json.loads((project / "facts.json").read_text())
        assert facts["schema_version"] == documents.SCHEMA_VERSION
