"""The MCP server (``phasegate mcp``): its tools, apply policy, masking and resources, driven
by the official SDK's client — in process, and against the real executable over stdio and
streamable HTTP. The shop session on the sandbox is in ``test_mcp_shop.py``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent, TextResourceContents

from phasegate.mcp import policy, server
from phasegate.store.evidence import EvidenceStore
from tests.integration.cli_helpers import PHASEGATE, phasegate

T = TypeVar("T")
TOOLS = {"probe", "check", "plan", "apply", "run_status", "evidence", "tasks_list",
         "tasks_next", "tasks_verify", "health"}


def in_process(settings: policy.Settings, work: Callable[[Client], Awaitable[T]]) -> T:
    mcp_server, served = server.build(settings)

    async def session() -> T:
        async with Client(mcp_server) as client:
            return await work(client)

    try:
        return asyncio.run(session())
    finally:
        served.close()


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content


def store_settings(tmp_path: Path, **more: Any) -> policy.Settings:
    return policy.Settings(store=str(tmp_path / "e.db"), reports_dir=tmp_path / "reports",
                           tasks_dir=tmp_path / "tasks", **more)


def test_every_tool_is_listed_with_its_input_schema_and_hints(tmp_path: Path) -> None:
    async def work(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in in_process(store_settings(tmp_path), work)}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.input_schema["type"] == "object" and tool.description, tool.name
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is not None, tool.name
        assert tool.annotations.destructive_hint is not None, tool.name
    assert tools["apply"].annotations is not None
    assert tools["apply"].annotations.destructive_hint is True
    assert tools["apply"].annotations.read_only_hint is False
    assert set(tools["apply"].input_schema["required"]) == {"plan", "plan_hash"}
    assert "read-only: apply is refused" in (tools["apply"].description or "")
    for name in ("probe", "check", "plan", "run_status", "evidence", "tasks_list", "health"):
        hints = tools[name].annotations
        assert hints is not None and hints.read_only_hint and not hints.destructive_hint
    assert tools["evidence"].input_schema["properties"]["format"]["enum"] == ["md", "json"]


def test_apply_is_refused_on_a_read_only_server_where_it_is_called(tmp_path: Path) -> None:
    plan = _offline_plan(tmp_path)

    async def work(client: Client) -> list[CallToolResult]:
        return [await client.call_tool("apply", {"plan": str(plan), "plan_hash": "sha256:x"})]

    [refused] = in_process(store_settings(tmp_path), work)
    assert refused.is_error
    assert "apply refused: this server is read-only" in text(refused)
    assert "--allow-apply" in text(refused)
    assert EvidenceStore(str(tmp_path / "e.db")).runs() == []  # refused before anything ran


def test_apply_without_a_hash_is_refused_even_when_apply_is_allowed(tmp_path: Path) -> None:
    plan = _offline_plan(tmp_path)

    async def work(client: Client) -> list[CallToolResult]:
        return [await client.call_tool("apply", {"plan": str(plan)}),
                await client.call_tool("apply", {"plan": str(plan), "plan_hash": ""}),
                await client.call_tool("apply", {"plan": str(plan), "plan_hash": "  "})]

    missing, empty, blank = in_process(store_settings(tmp_path, allow_apply=True), work)
    assert missing.is_error and "plan_hash" in text(missing)
    assert empty.is_error and "plan_hash" in text(empty)
    assert blank.is_error and "call `plan` first" in text(blank)
    assert EvidenceStore(str(tmp_path / "e.db")).runs() == []


def test_check_then_evidence_and_status_of_the_plan(tmp_path: Path) -> None:
    plan = _offline_plan(tmp_path)

    async def work(client: Client) -> list[CallToolResult]:
        checked = await client.call_tool("check", {"plan": str(plan)})
        return [checked,
                await client.call_tool("evidence", {"plan": "offline", "format": "md"}),
                await client.call_tool("evidence", {"plan": "offline", "format": "json"}),
                await client.call_tool("run_status", {"run": "latest"}),
                await client.call_tool("evidence", {"plan": "no-such-plan"}),
                await client.call_tool("check", {"plan": str(tmp_path / "missing.yaml")})]

    checked, md, as_json, status, unknown, missing = in_process(store_settings(tmp_path), work)
    result = structured(checked)
    assert result["outcome"] == "failed" and not result["passed"]
    seen = {o["name"]: o for o in result["observations"]}
    assert seen["marker present"]["passed"] and not seen["marker absent"]["passed"]
    run_id = result["run_id"]
    assert structured(md)["run_id"] == run_id
    assert "marker absent" in structured(md)["content"]
    document = structured(as_json)["evidence"]
    assert document["run"]["id"] == run_id and document["run"]["command"] == "check"
    state = structured(status)
    assert state["run_id"] == run_id and state["status"] == "failed"
    assert state["steps"][0]["passed"] == 1 and state["steps"][0]["failed"] == 1
    assert unknown.is_error and "no run of plan 'no-such-plan'" in text(unknown)
    assert missing.is_error and "missing.yaml" in text(missing)


def test_run_status_answers_while_a_gate_waits(tmp_path: Path, closed_port: int) -> None:
    waiting = {"probe": {"tcp": {"host": "127.0.0.1", "port": closed_port}}, "timeout": "2s"}

    async def work(client: Client) -> tuple[CallToolResult, tuple[float, CallToolResult]]:
        started = time.monotonic()

        async def status() -> tuple[float, CallToolResult]:
            await asyncio.sleep(0.3)
            answer = await client.call_tool("run_status", {})
            return time.monotonic() - started, answer

        return await asyncio.gather(client.call_tool("probe", waiting), status())

    probed, (after, status) = in_process(store_settings(tmp_path), work)
    assert structured(probed)["outcome"] == "timed_out"
    assert after < 1.5 and structured(status)["status"] == "running"


def test_every_result_and_error_is_masked(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-token-9f41c"
    monkeypatch.setenv("MCP_TEST_SECRET", secret)
    probe = {"file": {"path": str(tmp_path / "${env:MCP_TEST_SECRET}.txt")}}

    async def work(client: Client) -> list[CallToolResult]:
        return [await client.call_tool("probe", {"probe": probe}),
                await client.call_tool("run_status", {}),
                await client.call_tool("evidence", {"format": "json"}),
                await client.call_tool("probe", {"probe": {"tcp": {
                    "host": "${env:MCP_TEST_SECRET}", "port": "x"}}})]

    results = in_process(store_settings(tmp_path), work)
    observed = structured(results[0])["observations"][0]
    assert not observed["passed"] and "******" in json.dumps(observed)
    assert results[3].is_error
    for result in results:
        assert secret not in json.dumps(result.model_dump(mode="json"))


def test_an_ad_hoc_command_probe_needs_a_server_that_allows_changes(tmp_path: Path) -> None:
    spec = {"probe": {"command": {"run": ["true"]}}}

    async def work(client: Client) -> CallToolResult:
        return await client.call_tool("probe", spec)

    refused = in_process(store_settings(tmp_path), work)
    assert refused.is_error and "read-only" in text(refused)
    allowed = in_process(store_settings(tmp_path, allow_apply=True), work)
    assert structured(allowed)["passed"] is True


def test_task_tools_list_next_and_verify(tmp_path: Path) -> None:
    (tmp_path / "config.txt").write_text("listen 8080\n")
    backlog = tmp_path / "tasks" / "backlog"
    backlog.mkdir(parents=True)
    (backlog / "T-1-config.md").write_text(
        "---\nid: T-1\ntitle: the config listens on 8080\npriority: high\n"
        "created: 2026-11-30\ncriteria:\n  - text: config says 8080\n    verify:\n"
        "      file: {path: config.txt, markers: [listen 8080]}\n---\n\nBody.\n")

    async def work(client: Client) -> list[CallToolResult]:
        return [await client.call_tool("tasks_list", {}),
                await client.call_tool("tasks_verify", {"task": "T-1"}),
                await client.call_tool("tasks_next", {}),
                await client.call_tool("tasks_verify", {"task": "T-9"})]

    listed, verified, nxt, unknown = in_process(store_settings(tmp_path), work)
    queue = structured(listed)["queue"]
    assert [t["id"] for t in queue] == ["T-1"]
    assert queue[0]["criteria"][0]["status"] == "never verified"
    result = structured(verified)
    assert result["passed"] and result["tally"]["verified"] == 1
    task = structured(nxt)["next"]
    assert task["id"] == "T-1" and task["criteria"][0]["status"] == "passed"
    assert "verify: 1 of 1 criteria verified" in (backlog / "T-1-config.md").read_text()
    assert unknown.is_error and "T-9" in text(unknown)


def test_health_of_every_domain(tmp_path: Path, closed_port: int) -> None:
    (tmp_path / "notes.txt").write_text("ready\n")
    (tmp_path / "domains.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Domains\ndomains:\n"
        "  docs:\n    health:\n      - file: {path: notes.txt, markers: [ready]}\n"
        "  api:\n    depends_on: [docs]\n    health:\n"
        f"      - tcp: {{host: 127.0.0.1, port: {closed_port}}}\n")

    async def work(client: Client) -> list[CallToolResult]:
        return [await client.call_tool("health", {}),
                await client.call_tool("health", {"only": ["docs"]}),
                await client.call_tool("health", {"only": ["no-such-domain"]})]

    every, docs, unknown = in_process(
        store_settings(tmp_path, domains_file=tmp_path / "domains.yaml"), work)
    states = {d["name"]: d["state"] for d in structured(every)["domains"]}
    assert states == {"docs": "healthy", "api": "down"}
    assert structured(every)["healthy"] is False
    assert structured(docs)["healthy"] is True
    assert [d["name"] for d in structured(docs)["domains"]] == ["docs"]
    assert unknown.is_error and "no domain 'no-such-domain'" in text(unknown)


def test_resources_are_the_schemas_and_the_docs(tmp_path: Path) -> None:
    async def work(client: Client) -> tuple[list[str], str, str]:
        listed = [str(r.uri) for r in (await client.list_resources()).resources]
        schema = (await client.read_resource("phasegate://schema/plan")).contents[0]
        agents = (await client.read_resource("phasegate://docs/agents")).contents[0]
        assert isinstance(schema, TextResourceContents)
        assert isinstance(agents, TextResourceContents)
        return listed, schema.text, agents.text

    listed, schema, agents = in_process(store_settings(tmp_path), work)
    assert {"phasegate://schema/plan", "phasegate://schema/task",
            "phasegate://schema/evidence", "phasegate://docs/cli"} <= set(listed)
    assert "phases" in json.loads(schema)["properties"]
    assert "--allow-apply" in agents


def test_the_real_executable_over_stdio(tmp_path: Path) -> None:
    plan = _offline_plan(tmp_path)
    parameters = StdioServerParameters(
        command=PHASEGATE, args=["mcp", "--store", str(tmp_path / "e.db")], cwd=str(tmp_path),
        env={**os.environ})

    async def session() -> list[CallToolResult]:
        async with Client(parameters) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == TOOLS
            return [await client.call_tool("check", {"plan": str(plan)}),
                    await client.call_tool("apply", {"plan": str(plan), "plan_hash": "x"}),
                    await client.call_tool("evidence", {"plan": "offline"})]

    checked, refused, evidence = asyncio.run(session())
    assert structured(checked)["outcome"] == "failed"
    assert refused.is_error and "read-only" in text(refused)
    assert "marker absent" in structured(evidence)["content"]
    runs = EvidenceStore(str(tmp_path / "e.db")).runs()
    assert [r.command for r in runs] == ["check"]  # the refused apply recorded nothing


def test_streamable_http_answers_only_with_its_token(tmp_path: Path) -> None:
    token = "t0ken-for-this-test-only"
    port = _free_port()
    process = subprocess.Popen(
        [PHASEGATE, "mcp", "--port", str(port), "--store", str(tmp_path / "e.db")],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PHASEGATE_MCP_TOKEN": token})
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        _wait_for_port(port, process)
        bare = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert bare.status_code == 401
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        async def session() -> CallToolResult:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(headers=headers) as http, \
                    Client(streamable_http_client(url, http_client=http)) as client:
                return await client.call_tool("probe", {"probe": {"tcp": {
                    "host": "127.0.0.1", "port": port}}})

        assert structured(asyncio.run(session()))["passed"] is True
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert token not in out + err
    assert out == ""  # stdout is never written: on stdio it would be the protocol


def test_a_host_other_than_loopback_needs_a_token(tmp_path: Path) -> None:
    exposed = phasegate("mcp", "--port", "8765", "--host", "0.0.0.0", cwd=tmp_path,
                        env={"PHASEGATE_MCP_TOKEN": ""})
    assert exposed.returncode == 2
    assert "needs --token" in exposed.stderr
    alone = phasegate("mcp", "--host", "127.0.0.1", cwd=tmp_path)
    assert alone.returncode == 2 and "give --port too" in alone.stderr


def _offline_plan(tmp_path: Path) -> Path:
    """A plan that needs no cluster: one assumption holds, one does not."""
    (tmp_path / "notes.txt").write_text("ready\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: offline}\nassumptions:\n"
        "  probes:\n"
        "    - file: {path: notes.txt, markers: [ready]}\n      name: marker present\n"
        "    - file: {path: notes.txt, markers: [absent]}\n      name: marker absent\n")
    return plan


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"phasegate mcp exited {process.returncode}: "
                                 f"{process.communicate()[1]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"phasegate mcp never listened on {port}")
