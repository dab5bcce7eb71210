"""What people read: outcomes in words, names never broken mid-word at any width."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from tests.integration.cli_helpers import phasegate

LONG = "/nowhere/" + "very-long-directory-name-" * 3 + "and-a-file-name.yaml"


@pytest.mark.parametrize("columns", ["200", "100", "60", "30"])
def test_a_long_name_is_never_broken_mid_word(columns: str, tmp_path: Path) -> None:
    result = phasegate("probe", f"{{file: {{path: {LONG}}}}}", "--store",
                       str(tmp_path / "e.db"), env={"COLUMNS": columns})
    assert result.returncode == 1, result.stderr
    assert LONG in result.stdout, result.stdout
    shown = phasegate("show", "latest", "--store", str(tmp_path / "e.db"),
                      env={"COLUMNS": columns})
    assert LONG in shown.stdout, shown.stdout
    evidence_line = next(line for line in result.stdout.splitlines()
                         if line.startswith("evidence: run "))
    assert evidence_line.endswith("--format md)")  # one line, however narrow
    runs = phasegate("runs", "--store", str(tmp_path / "e.db"), env={"COLUMNS": columns})
    run_id = shown.stdout.split()[1]
    assert run_id in runs.stdout, runs.stdout


def test_a_wide_terminal_keeps_the_table(tmp_path: Path) -> None:
    result = phasegate("probe", "{file: {path: /etc/hostname}}", "--store",
                       str(tmp_path / "e.db"), env={"COLUMNS": "200"})
    header = result.stdout.splitlines()[0]
    assert "probe" in header and "observed" in header and "┃" in header


def plan(tmp_path: Path, namespace: str, gate: str, timeout: str = "") -> Path:
    (tmp_path / "cm.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: words, namespace: {namespace}}}\n"
        "data: {a: b}\n")
    path = tmp_path / "plan.yaml"
    path.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: words}\n"
        f"target: {{namespace: {namespace}}}\nphases:\n  - name: config\n    apply: cm.yaml\n"
        f"    gate: [{gate}]\n{timeout}")
    return path


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("gate", "timeout", "words", "raw"),
    [("{command: {run: no-such-binary-here}}", "", "gate failed fast", "fail_fast"),
     ("{k8s.exists: {kind: ConfigMap, name: never-there}}", "    timeout: 2s\n",
      "gate timed out", "timed_out")],
    ids=["failed fast", "timed out"],
)
def test_a_failed_phase_says_how_in_words(
    gate: str, timeout: str, words: str, raw: str, cluster: SandboxInfo, namespace: str,
    tmp_path: Path
) -> None:
    path = plan(tmp_path, namespace, gate, timeout)
    result = phasegate("apply", str(path), "--yes", "--kubeconfig", str(cluster.kubeconfig),
                       "--context", cluster.admin_context,
                       "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "r"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert words in result.stdout, result.stdout
    assert raw not in result.stdout + result.stderr
    shown = phasegate("show", "latest", "--store", str(tmp_path / "e.db"))
    assert raw not in shown.stdout and words in shown.stdout, shown.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [(["schema", "--for", "nope"],
      "error: --for 'nope': expected plan, task, evidence, domains or fleet\n"),
     (["probe", "{file: {path: /x}}", "--timeout", "soon"], "error: --timeout: "),
     (["probe", "{file: {path: /x}}", "-i", "nokey"], "error: input 'nokey' is neither")],
    ids=["schema --for", "--timeout", "--input"],
)
def test_a_bad_flag_is_named_without_pretending_to_be_a_plan(
    args: list[str], said: str, tmp_path: Path
) -> None:
    result = phasegate(*args, "--store", str(tmp_path / "e.db")) if args[0] != "schema" \
        else phasegate(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(said), result.stderr
    assert "<plan>" not in result.stderr
