"""Progress on every wait, as people and CI logs see it: a live line per waiting probe on a
real pseudo-terminal; one stderr line per change of what is observed in a pipe (never one
per poll); nothing with -q; stdout of --json stays one JSON document; secrets masked."""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from tests.integration.cli_helpers import PHASEGATE
from tests.integration.k8s_helpers import deployment, held_image
from tests.integration.terminal_helpers import on_a_terminal
from tests.integration.workflow_helpers import args

LATE = "{file: {path: late.txt}, interval: 0.1, max_interval: 0.2}"
TOKEN = "tok-progress-7f3a9c2e"  # a secret: read from ${env:…}, never to be shown


class _AppearsAfter:
    """Writes ``path`` a while after ``marker`` first shows in the output: the probe has
    been seen waiting, and polls a few more times before the file is there."""

    def __init__(self, path: Path, marker: str, text: str = "x", after: float = 1.5) -> None:
        self.path, self.marker, self.text, self.after = path, marker, text, after
        self.seen_at: float | None = None

    def __call__(self, output: str) -> None:
        if self.seen_at is None and self.marker in output:
            self.seen_at = time.monotonic()
            threading.Timer(self.after, self.path.write_text, [self.text]).start()


def _piped(*argv: str, cwd: Path, appears: _AppearsAfter,
           env: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    """Run phasegate with stdout and stderr as pipes; returns (code, stdout, stderr lines)."""
    process = subprocess.Popen([PHASEGATE, *argv], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "200", **(env or {})})
    assert process.stderr is not None and process.stdout is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(process.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    lines = []
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        appears("\n".join(lines))
    code = process.wait(timeout=180)
    reader.join()
    return code, out[0], lines


def _attempts(store: Path, name: str) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("select count(*) from observations where name = ?",
                              (name,)).fetchone()[0])


def test_on_a_terminal_a_live_line_shows_what_it_waits_for_what_it_sees_and_how_long(
    tmp_path: Path,
) -> None:
    appears = _AppearsAfter(tmp_path / "late.txt", "waiting for exists")
    screen = on_a_terminal("probe", "--timeout", "30s", LATE, "--store", "e.db", cwd=tmp_path,
                           during=appears)
    assert screen.returncode == 0, screen.raw
    live = [line for line in screen.lines if "waiting for exists" in line]
    assert live, screen.lines
    assert all(re.search(r"file late\.txt: waiting for exists · now missing · "
                         r"\d+\.\ds / 30\.0s · polled every [\d.]+s", line) for line in live)
    ticks = {re.search(r"(\d+\.\d)s / 30", line).group(1) for line in live}  # type: ignore[union-attr]
    assert len(ticks) >= 3  # the elapsed time moves while it waits
    assert "\x1b[1A" in screen.raw and "\x1b[2K" in screen.raw  # redrawn in place
    last_live = max(i for i, line in enumerate(screen.lines) if "waiting for exists" in line)
    assert any("gate passed" in line for line in screen.lines[last_live:])


def test_in_a_pipe_one_line_per_change_never_one_per_poll_and_stdout_stays_json(
    tmp_path: Path,
) -> None:
    appears = _AppearsAfter(tmp_path / "late.txt", "late.txt: missing")
    code, stdout, stderr = _piped("probe", "--json", "--timeout", "30s", LATE,
                                  "--store", "e.db", cwd=tmp_path, appears=appears)
    assert code == 0, stderr
    document = json.loads(stdout)  # pure JSON: progress went to stderr
    assert document["passed"] and document["attempts"] >= 6  # it polled, many times
    assert len(stderr) == 2, stderr  # a line when it started waiting, one when it passed
    assert re.fullmatch(r"… \[probe · file late\.txt\] file late\.txt: missing "
                        r"\(waiting for exists; \d+\.\ds of 30\.0s\)", stderr[0])
    assert re.fullmatch(r"✔ \[probe · file late\.txt\] file late\.txt: passed after "
                        r"\d+\.\ds — present, 1 characters", stderr[1])


def _appears_once_polled(store: Path, path: Path, before: int, polls: int = 3) -> None:
    """-q gives nothing to wait for on screen: write ``path`` once the store holds
    ``polls`` more attempts of its probe than ``before``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _attempts(store, f"file {path.name}") >= before + polls:
                break
        except sqlite3.Error:  # not created yet, or being migrated
            pass
        time.sleep(0.05)
    path.write_text("x")


def test_quiet_prints_no_progress_on_a_terminal_nor_in_a_pipe(tmp_path: Path) -> None:
    store, late = tmp_path / "e.db", tmp_path / "late.txt"
    writer = threading.Thread(target=_appears_once_polled, args=(store, late, 0))
    writer.start()
    screen = on_a_terminal("-q", "probe", "--timeout", "30s", LATE, "--store", "e.db",
                           cwd=tmp_path)
    writer.join()
    assert screen.returncode == 0, screen.raw
    assert "waiting for" not in screen.raw and "probing" not in screen.raw
    assert any("gate passed" in line for line in screen.lines)  # the result still prints
    before = _attempts(store, "file late.txt")
    assert before >= 4  # it did wait

    late.unlink()
    writer = threading.Thread(target=_appears_once_polled, args=(store, late, before))
    writer.start()
    quiet = subprocess.run([PHASEGATE, "-q", "probe", "--timeout", "30s", LATE, "--store",
                            "e.db", "--json"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    writer.join()
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert json.loads(quiet.stdout)["attempts"] >= 4


def test_on_a_terminal_a_waiting_plan_probe_never_shows_its_secret(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: waits}\nassumptions:\n"
        "  probes:\n    - file: {path: token.txt, markers: [\"${env:PG_PROGRESS_TOKEN}\"]}\n"
        "      interval: 0.1\n      max_interval: 0.2\n")
    appears = _AppearsAfter(tmp_path / "token.txt", "waiting for exists", text=TOKEN)
    screen = on_a_terminal("check", "plan.yaml", "--timeout", "30s", "--store", "e.db",
                           cwd=tmp_path, during=appears, env={"PG_PROGRESS_TOKEN": TOKEN})
    assert screen.returncode == 0, screen.raw
    assert TOKEN not in screen.raw
    assert any("file token.txt: waiting for exists, holds '******' · now missing" in line
               for line in screen.lines), screen.lines


@pytest.mark.cluster
def test_a_phase_gate_in_a_ci_log_says_each_change_once(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    (tmp_path / "web.yaml").write_text(json.dumps(deployment("web", 2, image=held_image(cluster))))
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: waits}\n"
        "target: {context: phasegate-local, namespace: \"${input.namespace}\"}\n"
        "phases:\n  - name: web\n    apply: web.yaml\n    timeout: 90s\n    rollback: none\n"
        "    gate:\n      - k8s.rollout: {name: web}\n"
        "      - file: {path: marker.txt, markers: [\"${env:PG_PROGRESS_TOKEN}\"]}\n"
        "        interval: 0.1\n        max_interval: 0.2\n")
    appears = _AppearsAfter(tmp_path / "marker.txt", "file marker.txt: missing", text=TOKEN)
    code, stdout, stderr = _piped("apply", str(tmp_path / "plan.yaml"), "--yes", "--json",
                                  *args(cluster, tmp_path, namespace), cwd=tmp_path,
                                  appears=appears, env={"PG_PROGRESS_TOKEN": TOKEN})
    assert code == 0, "\n".join(stderr)
    assert json.loads(stdout)["status"] == "passed"  # stdout: the one JSON document
    assert TOKEN not in stdout + "\n".join(stderr)
    gate = "[I · phase 1: web · gate] "
    marker = [line for line in stderr if f"{gate}file marker.txt:" in line]
    assert len(marker) == 2, stderr  # many polls, two changes: missing, then present
    assert marker[0].startswith(f"… {gate}file marker.txt: missing (waiting for exists, "
                                "holds '******'; ")
    assert marker[1].startswith(f"✔ {gate}file marker.txt: passed after ")
    assert _attempts(tmp_path / "e.db", "file marker.txt") >= 6

    rollout = [line for line in stderr if gate in line and "marker.txt" not in line]
    observed = [line.split(gate, 1)[1].split(": ", 1)[1].split(" (waiting for")[0]
                for line in rollout]
    assert all(a != b for a, b in itertools.pairwise(observed)), rollout  # changes only


@pytest.mark.cluster
def test_a_tracer_on_a_terminal_shows_its_cleanup_waiting_for_the_namespace_to_go(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    (tmp_path / "web.yaml").write_text(json.dumps(deployment("web", 1, image=held_image(cluster))))
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: waits}\n"
        "target: {context: phasegate-local, namespace: \"${input.namespace}\"}\n"
        "tracers:\n  - name: web\n    apply: web.yaml\n    timeout: 90s\n"
        "    gate: [{k8s.rollout: {name: web}}]\n")
    screen = on_a_terminal("tracer", "plan.yaml", *args(cluster, tmp_path, fresh_namespace),
                           cwd=tmp_path)
    assert screen.returncode == 0, screen.raw
    # the scratch namespace takes 5 s or more to go: its wait is drawn live, ticking
    gone = [line for line in screen.lines
            if re.search(r"Namespace pg-tracer-\S+: waiting for gone · now terminating", line)]
    assert gone, screen.lines
    assert all(re.search(r" · \d+\.\ds / 2m00s · polled every 0\.5s$", line) for line in gone)
    assert len({re.search(r"(\d+\.\d)s / 2m00s", line).group(1)  # type: ignore[union-attr]
                for line in gone}) >= 5
    assert any(line.startswith("0 · tracer cleanup pg-tracer-") for line in screen.lines)


@pytest.mark.cluster
def test_a_tracer_in_a_ci_log_says_its_cleanup_wait_once_per_change(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    (tmp_path / "web.yaml").write_text(json.dumps(deployment("web", 1, image=held_image(cluster))))
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: waits}\n"
        "target: {context: phasegate-local, namespace: \"${input.namespace}\"}\n"
        "tracers:\n  - name: web\n    apply: web.yaml\n    timeout: 90s\n"
        "    gate: [{k8s.rollout: {name: web}}]\n")
    result = subprocess.run([PHASEGATE, "tracer", "plan.yaml", "--json",
                             *args(cluster, tmp_path, fresh_namespace)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "passed"
    cleanup = [line for line in result.stderr.splitlines() if "] Namespace pg-tracer-" in line]
    assert cleanup[0].startswith("… [0 · tracer cleanup pg-tracer-")
    assert "terminating" in cleanup[0] and "(waiting for gone; " in cleanup[0]
    assert re.search(r"^✔ .*: passed after \d+\.\ds — gone$", cleanup[-1])
    observed = [line.split("(waiting for")[0] for line in cleanup[:-1]]
    assert len(observed) == len(set(observed))  # at 2 polls a second for 5 s: changes only
    assert len(cleanup) < 8


def test_tasks_verify_in_a_log_says_a_waiting_criterion_once_per_change(tmp_path: Path) -> None:
    (tmp_path / "tasks" / "active").mkdir(parents=True)
    (tmp_path / "tasks" / "active" / "T-1.md").write_text(
        "---\nid: T-1\ntitle: the late file\npriority: high\nstatus: active\n"
        "created: 2026-12-01\ncriteria:\n  - text: the late file is there\n"
        "    verify: {file: {path: late.txt}, interval: 0.1, max_interval: 0.2}\n---\n")
    appears = _AppearsAfter(tmp_path / "late.txt", "late.txt: missing")
    code, stdout, stderr = _piped("tasks", "verify", "T-1", "--timeout", "30s", "--json",
                                  "--store", "e.db", cwd=tmp_path, appears=appears)
    assert code == 0, stderr
    assert json.loads(stdout)["passed"]
    waits = [line for line in stderr if "file late.txt:" in line]
    assert len(waits) == 2, stderr
    assert waits[0].startswith("… [") and "missing (waiting for exists; " in waits[0]
    assert waits[1].startswith("✔ [") and ": passed after " in waits[1]
    assert _attempts(tmp_path / "e.db", "file late.txt") >= 6
