"""``phasegate health``: real probes (local HTTP services, the sandbox's API server), rolled
up by policy and dependency, each state change recorded; ``--watch`` on each interval."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.domains import health, loader, queries
from phasegate.sandbox import SandboxInfo, connect
from phasegate.store.evidence import EvidenceStore
from tests.integration.cli_helpers import PHASEGATE, phasegate
from tests.integration.domains_helpers import Switch, any_store, switch

__all__ = ["any_store", "switch"]  # fixtures

HEADER = "apiVersion: phasegate/v1\nkind: Domains\n"


def _domains(tmp_path: Path, identity: Switch, port: int, closed: int) -> Path:
    path = tmp_path / "domains.yaml"
    path.write_text(HEADER + f"""\
domains:
  identity:
    owner: team-identity
    health:
      - http: {{url: "{identity.url}"}}
        name: login page
  payments:
    depends_on: [identity]
    health:
      - tcp: {{host: 127.0.0.1, port: {port}}}
  search:
    policy: {{quorum: 2}}
    health:
      - tcp: {{host: 127.0.0.1, port: {port}}}
        name: index a
      - tcp: {{host: 127.0.0.1, port: {port}}}
        name: index b
      - tcp: {{host: 127.0.0.1, port: {closed}}}
        name: index c
""")
    return path


def _port(service: Switch) -> int:
    return int(service.server.server_address[1])


def test_health_once_rolls_up_and_a_dependency_down_names_the_cause(
        tmp_path: Path, switch: Switch, closed_port: int) -> None:
    path = _domains(tmp_path, switch, _port(switch), closed_port)
    store = str(tmp_path / "evidence.db")
    done = phasegate("health", "--domains", str(path), "--store", store, "--json")
    assert done.returncode == 1, done.stderr  # search is degraded
    document = json.loads(done.stdout)
    states = {d["name"]: (d["state"], d["cause"]) for d in document["domains"]}
    assert states == {"identity": ("healthy", None), "payments": ("healthy", None),
                      "search": ("degraded", None)}
    search = next(d for d in document["domains"] if d["name"] == "search")
    assert [p["state"] for p in search["probes"]] == ["passing", "passing", "failing"]
    assert search["probes"][2]["observation"]["observed"] == "connection refused"
    gate = phasegate("health", "--domains", str(path), "--store", store, "--domain", "payments")
    assert gate.returncode == 0, gate.stdout + gate.stderr  # a gate a CI job can call

    switch.up = False
    done = phasegate("health", "--domains", str(path), "--store", store)
    assert done.returncode == 1
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if "│" in line}
    assert "down (cause: identity)" in rows["payments"]
    assert "login page: status 503" in rows["identity"]
    gate = phasegate("health", "--domains", str(path), "--store", store, "--domain", "payments",
                     "--json")
    assert gate.returncode == 1
    payments = json.loads(gate.stdout)["domains"]
    assert [(d["name"], d["state"], d["own_state"], d["cause"]) for d in payments] == [
        ("payments", "down", "healthy", "identity")]

    evidence = EvidenceStore(store)
    timeline = queries.history(evidence, "payments", evidence_start(evidence))
    assert [(s.state, s.cause) for s in timeline] == [("healthy", None), ("down", "identity")]
    assert timeline[-1].observations[0]["observed"].startswith("connected")  # its own probe
    assert [p.state for p in queries.probe_history(
        evidence, "identity", evidence_start(evidence))] == ["passing", "failing"]


def evidence_start(store: EvidenceStore) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(hours=1)


def test_only_changes_are_recorded(any_store: EvidenceStore, tmp_path: Path,
                                   switch: Switch, closed_port: int) -> None:
    import uuid

    name = f"identity-{uuid.uuid4().hex[:6]}"  # the PostgreSQL store is the session's
    path = _domains(tmp_path, switch, _port(switch), closed_port)
    path.write_text(path.read_text().replace("  identity:", f"  {name}:")
                    .replace("[identity]", f"[{name}]"))
    domains = loader.load_domains(path)
    first = asyncio.run(health.evaluate_once(domains, [name], any_store))
    assert first.changed == (name,)
    again = asyncio.run(health.evaluate_once(domains, [name], any_store))
    assert again.changed == () and again.since[name] == first.states[name].at
    switch.up = False
    third = asyncio.run(health.evaluate_once(domains, ["payments", name], any_store))
    assert set(third.changed) >= {name}
    recorded = queries.history(any_store, name, evidence_start(any_store))
    assert [s.state for s in recorded] == ["healthy", "down"]


def test_bad_input_is_exit_2_at_its_place_and_nothing_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(HEADER + "domains:\n  a:\n    health:\n"
                    "      - tcp: {host: h, port: 1, prot: 2}\n")
    store = tmp_path / "evidence.db"
    done = phasegate("health", "--domains", str(path), "--store", str(store))
    assert done.returncode == 2
    assert f"{path}:6:33: domains.a.health[0].tcp.prot: unknown field 'prot'" in done.stderr
    path.write_text(HEADER + "domains:\n  a: {}\n")
    done = phasegate("health", "--domains", str(path), "--store", str(store), "--domain", "b")
    assert done.returncode == 2 and "--domain 'b': no such domain" in done.stderr
    missing = phasegate("health", "--store", str(store), cwd=tmp_path / "..")
    assert missing.returncode == 2 and "domains.yaml: domains file not found" in missing.stderr
    assert not store.exists() or queries.current(EvidenceStore(str(store))) == {}


def test_a_secret_from_the_environment_reaches_the_probe_and_nothing_else(
        tmp_path: Path, switch: Switch) -> None:
    token = "s3cr3t-health-token-9f2c"
    switch.token = token
    path = tmp_path / "domains.yaml"
    path.write_text(HEADER + f"""\
domains:
  identity:
    health:
      - http:
          url: "{switch.url}"
          headers: {{Authorization: "Bearer ${{env:HEALTH_TOKEN}}"}}
          body: "${{env:HEALTH_TOKEN}}|ok"
""")
    store = tmp_path / "evidence.db"
    done = phasegate("health", "--domains", str(path), "--store", str(store), "--json",
                     env={"HEALTH_TOKEN": token})
    assert done.returncode == 0, done.stdout + done.stderr  # the server saw the token
    assert token not in done.stdout + done.stderr
    assert "******" in done.stdout
    for written in tmp_path.glob("evidence.db*"):
        assert token.encode() not in written.read_bytes()
    unset = phasegate("health", "--domains", str(path), "--store", str(store))
    assert unset.returncode == 2
    assert (f"{path}:8:36: domains.identity.health[0].http.headers.Authorization: "
            "environment variable HEALTH_TOKEN is not set") in unset.stderr


def test_a_store_that_fails_mid_watch_stops_the_watch_with_its_error(tmp_path: Path) -> None:
    import sqlite3

    from phasegate.domains import watch
    from phasegate.errors import StoreError

    marker = tmp_path / "up"
    path = tmp_path / "domains.yaml"
    path.write_text(HEADER + f"domains:\n  a:\n    health:\n"
                    f"      - file: {{path: {marker}}}\n        interval: 0.1s\n")
    store = EvidenceStore(str(tmp_path / "evidence.db"))
    domains = loader.load_domains(path)

    async def run() -> None:
        first = asyncio.Event()
        task = asyncio.create_task(watch.watch(
            domains, None, store, lambda evaluation, _: evaluation and first.set()))
        await asyncio.wait_for(first.wait(), 60)
        with sqlite3.connect(tmp_path / "evidence.db") as db:  # the store breaks
            db.execute("DROP TABLE probe_states")
        marker.write_text("up")  # a change to record
        await asyncio.wait_for(task, 60)

    with pytest.raises(StoreError, match="probe_states"):
        asyncio.run(run())


class _Reader:
    """The JSON lines a process prints, read by a thread: select() on a buffered pipe misses
    lines already read into the buffer along with the previous one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self.queue.put(text)
        self.queue.put(None)

    def until(self, wanted: Any, timeout: float = 60) -> list[dict[str, Any]]:
        """Lines up to the first that satisfies ``wanted``."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                text = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if text is None:
                break
            seen.append(json.loads(text))
            if wanted(seen[-1]):
                return seen
        raise AssertionError(f"no such line in {seen}; stderr: {_stderr(self.process)}")


def _stderr(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        return "(still running)"
    return process.stderr.read() if process.stderr else ""


@pytest.mark.cluster
def test_watch_records_each_change_of_sandbox_and_http_probes(
        cluster: SandboxInfo, namespace: str, tmp_path: Path, switch: Switch) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(HEADER + f"""\
target: {{context: {cluster.admin_context}, kubeconfig: {cluster.kubeconfig}}}
interval: 0.3s
domains:
  config:
    namespace: {namespace}
    health:
      - k8s.exists: {{kind: ConfigMap, name: settings}}
  web:
    depends_on: config
    health:
      - http: {{url: "{switch.url}"}}
        interval: 0.2s
""")
    store = tmp_path / "evidence.db"
    process = subprocess.Popen([PHASEGATE, "health", "--watch", "--json", "--domains",
                                str(path), "--store", str(store)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "200"})
    lines = _Reader(process)
    try:
        first = lines.until(lambda d: d["event"] == "evaluated")[-1]
        assert {d["name"]: d["state"] for d in first["domains"]} == {"config": "down",
                                                                     "web": "down"}
        assert first["domains"][1]["cause"] == "config"
        with connect(cluster) as api:
            api.create(f"/api/v1/namespaces/{namespace}/configmaps",
                       {"metadata": {"name": "settings"}, "data": {"a": "b"}})
        changes = lines.until(lambda d: d["event"] == "changed" and d["domain"] == "web")
        config = next(d for d in changes if d.get("domain") == "config"
                      and d["event"] == "changed")
        assert (config["from"], config["state"]) == ("down", "healthy")
        assert (changes[-1]["from"], changes[-1]["state"]) == ("down", "healthy")
        switch.up = False
        web = lines.until(lambda d: d["event"] == "changed" and d["domain"] == "web")[-1]
        assert (web["from"], web["state"], web["cause"]) == ("healthy", "down", None)
        assert web["observations"][0]["observed"].startswith("status 503")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 3, err  # interrupted
    evidence = EvidenceStore(str(store))
    assert [s.state for s in queries.history(evidence, "web", evidence_start(evidence))] == [
        "down", "healthy", "down"]
    assert [s.state for s in queries.history(evidence, "config", evidence_start(evidence))] == [
        "down", "healthy"]
