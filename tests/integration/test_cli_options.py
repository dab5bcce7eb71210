"""The options every command shares, given before or after the subcommand's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.servers import HttpService
from tests.integration.cli_helpers import phasegate, phasegate_on_a_terminal

HIDE_CURSOR = "\x1b[?25l"  # what a live progress line draws first on a terminal


def test_json_and_store_work_before_and_after_the_subcommand(
    http_service: HttpService, tmp_path: Path
) -> None:
    store = str(tmp_path / "e.db")
    spec = f'{{http: {{url: "{http_service.url}/health", status: 200}}}}'
    assert phasegate("probe", spec, "--store", store).returncode == 0
    before = phasegate("--json", "--store", store, "runs")
    after = phasegate("runs", "--json", "--store", store)
    mixed = phasegate("--store", store, "runs", "--json")
    assert before.returncode == after.returncode == mixed.returncode == 0, before.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout) == json.loads(mixed.stdout)
    assert "probe" in before.stdout


def test_a_store_given_after_the_subcommand_wins_over_one_given_before(
    tmp_path: Path
) -> None:
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    result = phasegate("--store", str(first), "runs", "--store", str(second))
    assert result.returncode == 0, result.stderr
    assert "second.db" in result.stdout and "first.db" not in result.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_logs_on_either_side(
    where: str, http_service: HttpService, tmp_path: Path
) -> None:
    spec = f'{{http: {{url: "{http_service.url}/health", status: 200}}}}'
    command = ["probe", spec, "--store", str(tmp_path / "e.db")]
    result = phasegate(*(["-v", *command] if where == "before" else [*command, "-v"]))
    assert result.returncode == 0, result.stderr
    assert "HTTP Request: GET" in result.stderr


def test_quiet_and_verbose_together_are_refused_in_one_paragraph(tmp_path: Path) -> None:
    result = phasegate("-q", "runs", "-v", "--store", str(tmp_path / "e.db"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "-q and -v" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("quiet", [[], ["-q"], ["--quiet"]], ids=["plain", "-q", "--quiet"])
def test_quiet_draws_no_live_line_on_a_terminal(
    quiet: list[str], closed_port: int, tmp_path: Path
) -> None:
    spec = f"{{tcp: {{host: 127.0.0.1, port: {closed_port}}}, interval: 100ms}}"
    command = ["probe", spec, "--timeout", "1s", "--store", str(tmp_path / "e.db")]
    shown = phasegate_on_a_terminal(*quiet, *command)
    after = phasegate_on_a_terminal(*command, *quiet)
    assert "timed out" in shown and "timed out" in after
    if quiet:
        assert HIDE_CURSOR not in shown and HIDE_CURSOR not in after
    else:
        assert HIDE_CURSOR in shown


@pytest.mark.parametrize("args", [["version"], ["version", "--json"], ["--json", "version"]])
def test_version_answers_without_loading_the_command_line_stack(args: list[str]) -> None:
    # The 150 ms goal (bench/startup.py) is met by never importing typer, rich or pydantic
    # for `version`: tested by what is imported, which a loaded machine cannot blur.
    import subprocess
    import sys

    from tests.integration.cli_helpers import PHASEGATE

    result = subprocess.run([sys.executable, "-X", "importtime", PHASEGATE, *args],
                            capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not {"typer", "rich", "pydantic", "click"} & imported
    typed = phasegate(*args)
    if "--json" in args:
        assert json.loads(typed.stdout)["version"] == json.loads(result.stdout)["version"]
    else:
        assert result.stdout.startswith("phasegate ")


def test_version_by_the_full_command_line_says_the_same(tmp_path: Path) -> None:
    fast = phasegate("version", "--json")
    full = phasegate("-v", "version", "--json")  # -v is not on the fast path
    assert fast.returncode == full.returncode == 0
    assert json.loads(fast.stdout) == json.loads(full.stdout)


def test_shell_completion_is_on() -> None:
    script = phasegate("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert script.returncode == 0 and "_PHASEGATE_COMPLETE" in script.stdout
    completed = phasegate(env={"_PHASEGATE_COMPLETE": "complete_bash",
                               "COMP_WORDS": "phasegate ru", "COMP_CWORD": "1"})
    assert completed.stdout.split() == ["run", "runs"]
    options = phasegate(env={"_PHASEGATE_COMPLETE": "complete_bash",
                             "COMP_WORDS": "phasegate runs --st", "COMP_CWORD": "2"})
    assert options.stdout.split() == ["--store"]
    assert "--install-completion" in phasegate("--help").stdout
