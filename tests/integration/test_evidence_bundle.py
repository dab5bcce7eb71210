"""``phasegate evidence bundle``: a real run on the sandbox (a phase applied, its validation
failing with diagnostics), bundled, the tarball opened, and every file INDEX.md names
checked: present, its sha256 as written, what it says it is — and, where INDEX gives a
command, that command reproduces it byte for byte from the store."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import tarfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner, Result

from phasegate.cli.app import app
from phasegate.sandbox import SandboxInfo
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster

PLAN = """apiVersion: phasegate/v1
kind: Plan
metadata: {name: NAME}
target: {context: phasegate-local, namespace: "${input.namespace}"}
phases:
  - name: settings
    apply: settings.yaml
    gate: [GATE]
    timeout: TIMEOUT
validate:
  - k8s.exists: {kind: ConfigMap, name: settings}
    name: settings still there
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
# ConfigMaps carry no conditions: this gate fails once its 2 s are up, with diagnostics
NEVER = "{k8s.condition: {kind: ConfigMap, name: settings, condition: Ready}}"
ROW = re.compile(r"^\| `([^`]+)` \| (.+) \| `([^`]+)` \| `([0-9a-f]{64})` \|$")


def test_a_bundle_holds_every_report_and_its_index_is_true(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    run_id = _run(tmp_path, cluster, namespace, "bundled",
                  "{k8s.exists: {kind: ConfigMap, name: settings}}", "30s", expect=0)
    index, files = _bundle(tmp_path, run_id)
    assert set(files) == {"evidence.md", "evidence.json", "evidence.junit.xml",
                          "evidence.html", "retrospective.md", "deployment-record.md",
                          "diagnostics.md"}
    assert f"run {run_id}" in index and "**passed**" in index
    text = {name: content.decode() for name, content in files.items()}
    assert "settings still there" in text["evidence.md"]
    assert json.loads(text["evidence.json"])["run"]["id"] == run_id
    cases = list(ElementTree.fromstring(text["evidence.junit.xml"]).iter("testcase"))
    assert cases and all(case.find("failure") is None for case in cases)
    assert text["evidence.html"].lstrip().lower().startswith("<!doctype html")
    assert "# Retrospective" in text["retrospective.md"]
    record = text["deployment-record.md"]
    assert "# Deployment record — bundled" in record and f"`{run_id}`" in record
    assert f"ConfigMap {namespace}/settings" in record
    assert "No diagnostics were captured: every step passed." in text["diagnostics.md"]


def test_a_failed_run_bundles_its_diagnostics_and_says_it_has_no_record(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    run_id = _run(tmp_path, cluster, namespace, "broken", NEVER, "2s", expect=1)
    index, files = _bundle(tmp_path, run_id)
    assert "deployment-record.md" not in files
    assert "No deployment record: this run's stage V did not write one" in index
    assert "**failed**" in index
    diagnostics = files["diagnostics.md"].decode()
    heading = next(line for line in diagnostics.splitlines() if line.startswith("## "))
    assert "k8s.condition" in heading or "settings" in heading
    assert "ConfigMap" in diagnostics.split(heading)[1]
    junit = ElementTree.fromstring(files["evidence.junit.xml"])
    assert any(case.find("failure") is not None for case in junit.iter("testcase"))


def _run(tmp_path: Path, cluster: SandboxInfo, namespace: str, name: str, gate: str,
         timeout: str, expect: int) -> str:
    plan = PLAN.replace("NAME", name).replace("GATE", gate).replace("TIMEOUT", timeout)
    (tmp_path / "plan.yaml").write_text(plan)
    (tmp_path / "settings.yaml").write_text(CONFIGMAP)
    ran = phasegate("run", str(tmp_path / "plan.yaml"), "--yes", "--json", "--input",
                    f"namespace={namespace}", "--kubeconfig", str(cluster.kubeconfig),
                    "--reports", str(tmp_path / "reports"), "--store", str(tmp_path / "e.db"))
    assert ran.returncode == expect, ran.stdout + ran.stderr
    return str(json.loads(ran.stdout)["run_id"])


def _bundle(tmp_path: Path, run_id: str) -> tuple[str, dict[str, bytes]]:
    """The bundle's INDEX.md and files, once every row of INDEX is checked: the file is
    there, has the sha256 written, and the row's command reproduces it byte for byte."""
    store = ["--store", str(tmp_path / "e.db")]
    path = tmp_path / "out" / "evidence.tar.gz"
    made = _cli("evidence", "bundle", run_id[:15], "-o", str(path), *store)
    assert made.exit_code == 0, made.output
    folder = f"phasegate-evidence-{run_id}/"
    with tarfile.open(path) as archive:
        files: dict[str, bytes] = {}
        for member in archive.getmembers():
            assert member.name.startswith(folder), member.name
            read = archive.extractfile(member)
            assert read is not None
            files[member.name.removeprefix(folder)] = read.read()
    index = files.pop("INDEX.md").decode()
    rows = [m.groups() for line in index.splitlines() if (m := ROW.match(line))]
    assert sorted(name for name, *_ in rows) == sorted(files)  # every file, nothing else
    for name, _proves, command, sha256 in rows:
        assert hashlib.sha256(files[name]).hexdigest() == sha256, name
        argv = shlex.split(command)
        if "-o" in argv:
            again = tmp_path / "again" / name
            argv[argv.index("-o") + 1] = str(again)
            redone = _cli(*argv[1:], *store)
            assert redone.exit_code == 0, (command, redone.output)
            assert again.read_bytes() == files[name], f"{command} made another {name}"
    return index, files


def _cli(*args: str) -> Result:
    """phasegate in this process: the same command tree, without a start-up per command."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_a_bad_run_id_is_a_clear_error(tmp_path: Path) -> None:
    done = phasegate("evidence", "bundle", "no-such-run", "-o", str(tmp_path / "b.tar.gz"),
                     "--store", str(tmp_path / "e.db"))
    assert done.returncode == 2
    assert "no run 'no-such-run'" in done.stderr
    assert not (tmp_path / "b.tar.gz").exists()
