"""Each probe family against the real thing: a live HTTP server, sockets, processes, git."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from tests.fixtures.servers import GitRepo, HttpService, git


def ask(spec: dict[str, object], base: Path | None = None) -> Observation:
    from phasegate.engine import attempt

    call = probe_call.build(spec)
    return asyncio.run(attempt.run(call, ProbeContext(base_dir=base or Path.cwd())))


def test_http_status_json_and_headers(http_service: HttpService) -> None:
    seen = ask({"http": {
        "url": f"{http_service.url}/health", "status": 200,
        "json": {"$.status": "ok", "$.items[0].name": "api"},
        "response_headers": {"X-Service": "^fixture$"}, "body": '"status"',
    }})
    assert seen.passed, seen.observed
    assert seen.observed == "status 200"


def test_http_mismatches_are_reported_as_observed(http_service: HttpService) -> None:
    seen = ask({"http": {"url": f"{http_service.url}/broken", "json": {"$.status": "ok"}}})
    assert not seen.passed
    assert seen.observed == 'status 503; $.status = "down"'


def test_http_closed_port_is_connection_refused(closed_port: int) -> None:
    seen = ask({"http": {"url": f"http://127.0.0.1:{closed_port}/health"}})
    assert (seen.passed, seen.observed) == (False, "connection refused")


def test_http_timeout_bounds_the_whole_request(http_service: HttpService) -> None:
    # headers after 1 s, then a byte a second: no single read waits 2 s, the request takes 11
    started = time.monotonic()
    seen = ask({"http": {"url": f"{http_service.url}/slow", "timeout": "2s"}})
    elapsed = time.monotonic() - started
    assert not seen.passed
    assert seen.observed == "timed out after 2 s"
    assert elapsed < 3.5


def test_tcp_open_and_closed(http_service: HttpService, closed_port: int) -> None:
    assert ask({"tcp": {"host": "127.0.0.1", "port": http_service.port}}).passed
    refused = ask({"tcp": {"host": "127.0.0.1", "port": closed_port}})
    assert refused.observed == "connection refused"


def test_command_exit_code_output_and_timeout(tmp_path: Path) -> None:
    ok = ask({"command": {"run": ["sh", "-c", "echo ready; echo warn >&2"],
                          "stdout": "^ready$", "stderr": "warn"}})
    assert ok.passed and "ready" in ok.detail
    failed = ask({"command": {"run": ["sh", "-c", "echo boom >&2; exit 3"]}})
    assert not failed.passed and failed.observed == "exit 3: boom"
    slow = ask({"command": {"run": ["sleep", "5"], "timeout": "300ms"}})
    assert slow.observed == "timed out after 0.3 s"
    missing = ask({"command": {"run": "no-such-binary-here --flag"}})
    assert missing.fail_fast and missing.observed == "command not found: no-such-binary-here"


def test_command_runs_no_shell_unless_asked(tmp_path: Path) -> None:
    literal = ask({"command": {"run": ["echo", "$HOME"], "stdout": r"^\$HOME$"}})
    assert literal.passed
    shell = ask({"command": {"run": "echo $HOME", "shell": True, "stdout": os.environ["HOME"]}})
    assert shell.passed


def test_command_output_is_capped() -> None:
    seen = ask({"command": {"run": ["python3", "-c", "print('x' * 500000)"]}})
    assert seen.passed
    assert len(seen.detail) < 70_000 and "characters omitted" in seen.detail


def test_dns_resolves_localhost_and_not_nonsense() -> None:
    assert ask({"dns": {"name": "localhost", "addresses": ["127.0.0.1"], "type": "A"}}).passed
    absent = ask({"dns": {"name": "no-such-host.invalid"}})
    assert not absent.passed and absent.observed.startswith("does not resolve")
    assert ask({"dns": {"name": "no-such-host.invalid", "resolves": False}}).passed


def test_file_markers_and_absence(tmp_path: Path) -> None:
    (tmp_path / "registry.yaml").write_text("tls: true\nsan: [registry.local, 10.0.0.7]\n")
    good = ask({"file": {"path": "registry.yaml", "markers": ["tls: true"],
                         "contains": [r"san: \[.*10\.0\.0\.7"]}}, tmp_path)
    assert good.passed, good.observed
    stale = ask({"file": {"path": "registry.yaml", "markers": ["192.168.7.21"],
                          "absent": ["tls: true"]}}, tmp_path)
    assert stale.observed == "marker '192.168.7.21' missing; forbidden /tls: true/ present"
    assert ask({"file": {"path": "gone.yaml"}}, tmp_path).observed == "missing"
    assert ask({"file": {"path": "gone.yaml", "exists": False}}, tmp_path).passed


def test_git_clean_pushed_and_branch(git_repo: GitRepo) -> None:
    spec = {"git": {"path": str(git_repo.path), "clean": True, "pushed": True, "branch": "main"}}
    assert ask(spec).passed
    (git_repo.path / "deploy.yaml").write_text("replicas: 5\n")
    dirty = ask(spec)
    assert not dirty.passed and "1 uncommitted change(s)" in dirty.observed
    git(git_repo.path, "commit", "-qam", "scale")
    unpushed = ask(spec)
    assert "not pushed" in unpushed.observed and "uncommitted" not in unpushed.observed
    git(git_repo.path, "push", "-q")
    assert ask(spec).passed
    git(git_repo.path, "checkout", "-qb", "feature")
    assert "on branch feature, not main" in ask(spec).observed


def test_git_outside_a_repository_fails_fast(tmp_path: Path) -> None:
    seen = ask({"git": {"path": str(tmp_path)}})
    assert seen.fail_fast and seen.observed.startswith("not a git repository")


@pytest.mark.parametrize("kind", ["http", "tcp", "dns", "command", "file", "git"])
def test_every_probe_kind_is_registered(kind: str) -> None:
    from phasegate.probes import registry

    assert registry.get(kind) is not None
