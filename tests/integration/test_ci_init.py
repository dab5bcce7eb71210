"""``phasegate ci init``: the generated workflows pass the real linters (actionlint, built
from its Go module; SchemaStore's published schemas, as check-jsonschema vendors them),
run their gates in order with inputs by file, and their contract level really runs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.cli_helpers import phasegate

CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")
PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: shop}
target: {context: "${input.context}", clusterUID: "${input.clusterUID}", namespace: shop}
assumptions:
  probes:
    - file: {path: config.yaml, contains: ["${input.greeting}"]}
phases:
  - name: config
    apply: config.yaml
"""
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: shop, namespace: shop}
data: {greeting: hello}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "plan.yaml").write_text(PLAN)
    (deploy / "config.yaml").write_text(CONFIG)
    (deploy / "inputs.yaml").write_text("greeting: hello\n")
    (deploy / "staging.yaml").write_text(
        "context: staging\nclusterUID: 6c1f2a0e-0000-4000-8000-000000000001\n")
    return tmp_path


def init(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "phasegate"), "ci", "init", *args,
         "--plan", "deploy/plan.yaml", "--inputs", "deploy/inputs.yaml"],
        cwd=repo, capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "200"})


def schema_check(schema: str, path: Path, *transform: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", schema, *transform, str(path)],
                          capture_output=True, text=True, timeout=120)


def gitlab_yaml(text: str) -> Any:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))
    return yaml.load(text, Loader=Loader)  # a SafeLoader that knows one more tag


def test_github_workflow_passes_actionlint_and_the_published_schema(
    repo: Path, actionlint: str
) -> None:
    made = init(repo, "--github")
    assert made.returncode == 0, made.stderr
    workflow = repo / ".github" / "workflows" / "phasegate.yml"
    assert shutil.which("shellcheck"), "actionlint checks each run: script with shellcheck " \
        "(scripts/ensure-test-tools installs it)"
    linted = subprocess.run([actionlint, "-no-color", str(workflow)], capture_output=True,
                            text=True, timeout=120)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    checked = schema_check("vendor.github-workflows", workflow)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert list(jobs) == ["contract", "runtime-smoke", "staging-plan", "staging"]
    assert [jobs[j].get("needs") for j in jobs] == [None, "contract", "runtime-smoke",
                                                    "staging-plan"]
    assert jobs["staging"]["environment"] == "staging"
    runs = {name: "\n".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    assert "--level contract" in runs["contract"] and "phasegate sandbox up" not in runs[
        "contract"]
    assert "phasegate sandbox up" in runs["runtime-smoke"]
    assert '--level staging --approve "$APPROVED_HASH"' in runs["staging"]
    gates = next(s for s in jobs["staging"]["steps"] if s.get("name") == "Staging gates")
    assert gates["env"]["APPROVED_HASH"] == "${{ needs.staging-plan.outputs.plan_hash }}"
    for name, job in jobs.items():
        uploads = [s for s in job["steps"] if s.get("uses", "").startswith(
            "actions/upload-artifact")]
        assert uploads and uploads[0]["if"] == "always()", name
        assert "junit" in runs[name] and "evidence bundle" in runs[name]
        # secrets reach a step only through its env, and a command only through a file
        assert "secrets." not in runs[name]
        commands = [line for line in runs[name].splitlines() if line.startswith("phasegate ")]
        assert all("{" not in line and "=" not in line for line in commands), commands
        assert all(arg.startswith('"@') for line in commands
                   for arg in line.split("--input ")[1:]), commands
    assert '--input "@b64:$RUNNER_TEMP/secret-inputs.b64"' in runs["staging"]


def test_gitlab_pipeline_passes_the_published_schema_in_order(repo: Path) -> None:
    made = init(repo, "--gitlab")
    assert made.returncode == 0, made.stderr
    pipeline = repo / ".gitlab-ci.yml"
    checked = schema_check("vendor.gitlab-ci", pipeline, "--data-transform", "gitlab-ci")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    document = gitlab_yaml(pipeline.read_text())
    assert document["stages"] == ["contract", "runtime-smoke", "staging-plan", "staging"]
    assert [document[j]["stage"] for j in document["stages"]] == document["stages"]
    assert document["staging"]["needs"] == ["staging-plan"]
    assert document["staging"]["rules"][0]["when"] == "manual"
    assert document["staging-plan"]["artifacts"]["reports"]["dotenv"] == "plan.env"
    assert document[".phasegate"]["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    staging = "\n".join(document["staging"]["script"][-1:])
    assert '--level staging --approve "$APPROVED_HASH"' in staging
    assert '"@b64:$CI_PROJECT_DIR/.secret-inputs.b64"' in staging


def test_the_linters_refuse_a_broken_workflow(repo: Path, actionlint: str) -> None:
    # what makes the checks above worth something: each one says no to a real mistake
    assert init(repo, "--github").returncode == 0
    assert init(repo, "--gitlab").returncode == 0
    workflow = repo / ".github" / "workflows" / "phasegate.yml"
    workflow.write_text(workflow.read_text().replace("needs: contract", "needs: contrac"))
    linted = subprocess.run([actionlint, "-no-color", str(workflow)], capture_output=True,
                            text=True, timeout=120)
    assert linted.returncode == 1 and "contrac" in linted.stdout
    pipeline = repo / ".gitlab-ci.yml"
    pipeline.write_text(pipeline.read_text().replace("when: manual", "when: sometimes"))
    refused = schema_check("vendor.gitlab-ci", pipeline, "--data-transform", "gitlab-ci")
    assert refused.returncode == 1


def test_the_contract_level_runs_as_generated_with_inputs_by_file(repo: Path) -> None:
    assert init(repo, "--github").returncode == 0
    workflow = yaml.safe_load((repo / ".github/workflows/phasegate.yml").read_text())
    contract = next(s["run"] for s in workflow["jobs"]["contract"]["steps"]
                    if s.get("name") == "Contract gates")
    env = {**os.environ, **workflow["env"],
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", contract], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    evidence = next(s["run"] for s in workflow["jobs"]["contract"]["steps"]
                    if s.get("name", "").startswith("Evidence"))
    saved = subprocess.run(["bash", "-euo", "pipefail", "-c", evidence], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=120)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert "<testsuite" in (repo / "reports" / "junit.xml").read_text()
    with tarfile.open(repo / "reports" / "evidence.tar.gz") as bundle:
        assert any(name.endswith("INDEX.md") for name in bundle.getnames())


def test_secret_inputs_by_base64_file_reach_the_plan_masked(repo: Path) -> None:
    secret = "s3cr3t-'quoted\"-value"
    (repo / "secret.b64").write_text(base64.b64encode(f"greeting: {json.dumps(secret)}\n".encode())
                                     .decode())
    (repo / "deploy" / "config.yaml").write_text(CONFIG.replace("hello", "x") +
                                                 f"# {secret}\n")
    ran = phasegate("run", "deploy/plan.yaml", "--level", "contract", "--input",
                    "@deploy/staging.yaml", "--input", "@b64:secret.b64", "--json",
                    cwd=repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    shown = phasegate("evidence", "latest", "--format", "json", cwd=repo)
    assert secret not in shown.stdout and secret not in ran.stdout


def test_ci_init_refuses_bad_requests_with_exit_2(repo: Path) -> None:
    assert init(repo).returncode == 2
    assert init(repo, "--github", "--gitlab").returncode == 2
    assert init(repo, "--github").returncode == 0
    workflow = repo / ".github" / "workflows" / "phasegate.yml"
    workflow.write_text("# mine\n")
    again = init(repo, "--github")
    assert again.returncode == 2 and "--force" in again.stderr
    assert workflow.read_text() == "# mine\n"
    assert init(repo, "--github", "--force").returncode == 0
    missing = phasegate("ci", "init", "--gitlab", "--plan", "nowhere.yaml", cwd=repo)
    assert missing.returncode == 2 and "nowhere.yaml" in missing.stderr
