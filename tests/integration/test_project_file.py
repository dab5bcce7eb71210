"""Defaults from ``phasegate.toml`` (found upward, or named by PHASEGATE_CONFIG), then the
environment, then the flags."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from tests.integration.cli_helpers import phasegate

NO_DEFAULTS = {"PHASEGATE_STORE": "", "PHASEGATE_CONFIG": "", "PHASEGATE_KUBECONFIG": "",
               "PHASEGATE_CONTEXT": "", "PHASEGATE_REPORTS": ""}


def store_used(result_stdout: str) -> str:
    return result_stdout.strip().rsplit(" in ", 1)[1]


def test_the_project_file_is_found_upward_and_its_paths_are_its_own(tmp_path: Path) -> None:
    (tmp_path / "phasegate.toml").write_text('store = "data/evidence.db"\n')
    deeper = tmp_path / "a" / "b"
    deeper.mkdir(parents=True)
    probe = phasegate("probe", "{file: {path: /etc/hostname}}", cwd=deeper, env=NO_DEFAULTS)
    assert probe.returncode == 0, probe.stderr
    assert (tmp_path / "data" / "evidence.db").is_file()
    assert not (deeper / ".phasegate").exists()
    listed = phasegate("runs", "--json", cwd=tmp_path, env=NO_DEFAULTS)
    assert [r["command"] for r in json.loads(listed.stdout)["runs"]] == ["probe"]


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    (tmp_path / "phasegate.toml").write_text('store = "from-file.db"\n')
    env = {**NO_DEFAULTS, "PHASEGATE_STORE": str(tmp_path / "from-env.db")}
    assert store_used(phasegate("runs", cwd=tmp_path, env=NO_DEFAULTS).stdout).endswith(
        "/from-file.db")
    assert store_used(phasegate("runs", cwd=tmp_path, env=env).stdout).endswith(
        "/from-env.db")
    for flags in (["--store", "flag.db", "runs"], ["runs", "--store", "flag.db"]):
        assert store_used(phasegate(*flags, cwd=tmp_path, env=env).stdout).endswith(
            "/flag.db")


def test_phasegate_config_names_the_file_and_the_search_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "phasegate.toml").write_text('store = "nearby.db"\n')
    elsewhere = tmp_path / "conf" / "team.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text('store = "named.db"\n')
    env = {**NO_DEFAULTS, "PHASEGATE_CONFIG": str(elsewhere)}
    used = store_used(phasegate("runs", cwd=tmp_path, env=env).stdout)
    assert used.endswith("/conf/named.db"), used


def test_reports_directory_from_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: files}\n"
        "assumptions:\n  probes:\n    - file: {path: /etc/hostname}\n")
    (tmp_path / "phasegate.toml").write_text('reports = "out/reports"\nstore = "e.db"\n')
    result = phasegate("run", "plan.yaml", "--level", "contract", "--json", cwd=tmp_path,
                       env=NO_DEFAULTS)
    assert result.returncode == 0, result.stdout + result.stderr
    files = json.loads(result.stdout)["files"]
    assert files and all(str(tmp_path / "out" / "reports") in p for p in files.values())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('store = "x.db"\ncontext = \n', "phasegate.toml:2:11: TOML syntax error"),
        ('store = "x.db"\n\n[kube]\nconfig = "k"\n',
         "phasegate.toml:3: kube: unknown key 'kube'"),
        ('stroe = "x.db"\n', "phasegate.toml:1: stroe: unknown key 'stroe'; a project file "
         "sets store, kubeconfig, context, reports — did you mean 'store'?"),
        ('store = "x.db"\ncontext = 3\n',
         "phasegate.toml:2: context: expected a non-empty string, found a number"),
        ('reports = ["a"]\n', "phasegate.toml:1: reports: expected a non-empty string, "
         "found a list"),
    ],
    ids=["syntax", "table", "unknown key", "number", "list"],
)
def test_a_bad_project_file_is_one_paragraph_naming_its_line(
    content: str, words: str, tmp_path: Path
) -> None:
    (tmp_path / "phasegate.toml").write_text(content)
    result = phasegate("runs", cwd=tmp_path, env=NO_DEFAULTS)
    assert result.returncode == 2, result.stdout
    assert words in result.stderr and str(tmp_path / "phasegate.toml") in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists() and not (tmp_path / ".phasegate").exists()
    as_json = phasegate("runs", "--json", cwd=tmp_path, env=NO_DEFAULTS)
    assert as_json.returncode == 2 and words in json.loads(as_json.stdout)["error"]["message"]


def test_phasegate_config_naming_a_missing_file_is_refused(tmp_path: Path) -> None:
    env = {**NO_DEFAULTS, "PHASEGATE_CONFIG": str(tmp_path / "missing.toml")}
    result = phasegate("runs", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert f"{tmp_path / 'missing.toml'}: PHASEGATE_CONFIG names a file that does not exist" \
        in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / ".phasegate").exists()


@pytest.mark.cluster
def test_kubeconfig_and_context_from_the_file_the_environment_and_the_flags(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    (tmp_path / "phasegate.toml").write_text(
        f'kubeconfig = "{cluster.kubeconfig}"\ncontext = "{cluster.restricted_context}"\n'
        'store = "e.db"\n')
    # nodes are cluster-wide: the admin may list them, the restricted identity may not
    spec = "{k8s.can_i: {verb: list, resource: nodes}}"
    env = {**NO_DEFAULTS, "KUBECONFIG": str(tmp_path / "not-this-one")}
    from_file = phasegate("probe", spec, "--json", cwd=tmp_path, env=env)
    assert from_file.returncode == 1, from_file.stdout + from_file.stderr
    assert json.loads(from_file.stdout)["observations"][0]["passed"] is False
    admin = {**env, "PHASEGATE_CONTEXT": cluster.admin_context}
    assert phasegate("probe", spec, cwd=tmp_path, env=admin).returncode == 0
    for flags in (["--context", cluster.admin_context, "probe", spec],
                  ["probe", spec, "--context", cluster.admin_context]):
        assert phasegate(*flags, cwd=tmp_path, env=env).returncode == 0
    gone = {**env, "PHASEGATE_KUBECONFIG": str(tmp_path / "absent")}
    refused = phasegate("probe", spec, cwd=tmp_path, env=gone)
    assert refused.returncode == 2 and "absent" in refused.stderr, refused.stderr
    assert os.path.exists(cluster.kubeconfig)
