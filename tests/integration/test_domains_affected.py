"""``phasegate domains affected``: the files of a real git diff mapped to domains."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from phasegate.domains import affected
from tests.fixtures.servers import git
from tests.integration.cli_helpers import phasegate

DOMAINS = """\
apiVersion: phasegate/v1
kind: Domains
domains:
  identity:
    owner: team-identity
    paths: [services/identity/**]
  payments:
    owner: team-payments
    paths: [services/payments/, "charts/*/payments-*.yaml"]
    plans: [../deploy/payments.yaml]
    depends_on: [identity]
  checkout:
    paths: services/checkout
    depends_on: [payments]
  search:
    paths: ["**/search/*.py"]
"""


def _write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main with every domain's files, then a branch that changes some of them."""
    repo = tmp_path / "platform"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    _write(repo, {"platform/domains.yaml": DOMAINS,
                  "services/identity/app.py": "1\n", "services/payments/api.py": "1\n",
                  "services/checkout/cart.py": "1\n", "deploy/payments.yaml": "1\n",
                  "libs/search/rank.py": "1\n", "charts/shop/payments-values.yaml": "1\n",
                  "README.md": "1\n", "services/payments-old/x.py": "1\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "checkout", "-q", "-b", "change")
    _write(repo, {"services/payments/api.py": "2\n", "deploy/payments.yaml": "2\n",
                  "libs/search/rank.py": "2\n", "README.md": "2\n",
                  "services/payments-old/x.py": "2\n"})
    git(repo, "mv", "charts/shop/payments-values.yaml", "charts/shop/values.yaml")
    git(repo, "commit", "-q", "-am", "change payments, search, docs")
    git(repo, "checkout", "-q", "main")
    _write(repo, {"services/identity/app.py": "3\n"})  # main moves on: not this change
    git(repo, "commit", "-q", "-am", "identity on main")
    git(repo, "checkout", "-q", "change")
    return repo


def test_changed_files_map_to_domains_as_a_ci_matrix(repo: Path) -> None:
    done = phasegate("domains", "affected", "--base", "main", "--json",
                     "--domains", "platform/domains.yaml", cwd=repo)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["domains"] == ["payments", "search"]
    assert found["files"]["payments"] == [
        "charts/shop/payments-values.yaml",  # moved away: its old path is the domain's
        "deploy/payments.yaml",  # the domain's plan
        "services/payments/api.py"]
    assert found["files"]["search"] == ["libs/search/rank.py"]
    assert found["unowned"] == ["README.md", "charts/shop/values.yaml",
                                "services/payments-old/x.py"]
    assert found["matrix"] == {"include": [
        {"domain": "payments", "owner": "team-payments", "plans": ["deploy/payments.yaml"]},
        {"domain": "search", "owner": None, "plans": []}]}
    assert found["merge_base"] == git(repo, "merge-base", "main", "HEAD")

    people = phasegate("domains", "affected", "--base", "main", "--with-dependents",
                       "--domains", "platform/domains.yaml", cwd=repo)
    assert people.returncode == 0, people.stderr
    assert "7 files changed since main" in people.stdout
    assert "checkout: depends on payments" in people.stdout
    assert "identity" not in people.stdout  # changed on main, not by this change


def test_an_unknown_ref_or_no_repository_is_bad_input(repo: Path, tmp_path: Path) -> None:
    done = phasegate("domains", "affected", "--base", "origin/nope", "--domains",
                     "platform/domains.yaml", cwd=repo)
    assert done.returncode == 2
    assert "--base 'origin/nope' and 'HEAD':" in done.stderr and "Traceback" not in done.stderr
    elsewhere = tmp_path / "loose"
    elsewhere.mkdir()
    (elsewhere / "domains.yaml").write_text(DOMAINS)
    done = phasegate("domains", "affected", "--base", "main", cwd=elsewhere)
    assert done.returncode == 2 and "the folder of the domains file" in done.stderr


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("services/payments/**", "services/payments/a/b.py", True),
    ("services/payments/**", "services/payments-old/b.py", False),
    ("services/payments", "services/payments/b.py", True),
    ("services/payments/", "services/payments", True),
    ("**/search/*.py", "search/rank.py", True),
    ("**/search/*.py", "libs/x/search/rank.py", True),
    ("**/search/*.py", "libs/search/deep/rank.py", False),
    ("charts/*/values-?.yaml", "charts/shop/values-a.yaml", True),
    ("charts/*/values-[!b].yaml", "charts/shop/values-b.yaml", False),
    ("*.md", "docs/a.md", False),
])
def test_globs_match_repository_paths(pattern: str, path: str, expected: bool) -> None:
    assert affected.matches(pattern, path) is expected


def _snippet(marker: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text()
    after = text.split(f"<!-- {marker} -->\n", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def test_the_github_recipe_passes_actionlint(tmp_path: Path, actionlint: str) -> None:
    workflow = tmp_path / ".github" / "workflows" / "domains.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(_snippet("domains-github"))
    linted = subprocess.run([actionlint, str(workflow)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_gitlab_recipe_writes_a_valid_child_pipeline_from_a_real_change(
        repo: Path, tmp_path: Path) -> None:
    from tests.integration.test_ci_init import schema_check

    parent = tmp_path / ".gitlab-ci.yml"
    parent.write_text(_snippet("domains-gitlab"))
    checked = schema_check("vendor.gitlab-ci", parent, "--data-transform", "gitlab-ci")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    program = tmp_path / "domains-pipeline.jq"
    program.write_text(_snippet("domains-gitlab-jq"))
    pipelines = {}
    for base, jobs in (("main", ["domain payments", "domain search", "domain checkout"]),
                       ("HEAD", ["no domain affected"])):
        done = phasegate("domains", "affected", "--base", base, "--with-dependents", "--json",
                         "--domains", "platform/domains.yaml", cwd=repo)
        assert done.returncode == 0, done.stderr
        (tmp_path / "affected.json").write_text(done.stdout)
        child = tmp_path / "domains-pipeline.yml"
        written = subprocess.run(["jq", "-f", str(program), str(tmp_path / "affected.json")],
                                 capture_output=True, text=True, timeout=60, check=True)
        child.write_text(written.stdout)
        pipelines[base] = json.loads(written.stdout)
        assert list(pipelines[base]) == jobs
        checked = schema_check("vendor.gitlab-ci", child, "--data-transform", "gitlab-ci")
        assert checked.returncode == 0, checked.stdout + checked.stderr
    payments = pipelines["main"]["domain payments"]
    assert payments["variables"] == {"DOMAIN": "payments", "PLANS": "deploy/payments.yaml"}
