"""An agent's whole session on the sandbox: through the real ``phasegate mcp --allow-apply``
over stdio, the SDK's client checks the shop example, plans it, is refused with a wrong hash,
and applies it with the right one. The shop's pods run on the sandbox's real node."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import PHASEGATE
from tests.integration.test_mcp import structured

pytestmark = pytest.mark.cluster
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def test_an_mcp_session_checks_plans_and_applies_the_shop(
    real_cluster: SandboxInfo, tmp_path: Path, fresh_real_namespace: str
) -> None:
    namespace = fresh_real_namespace
    assert real_cluster.registry
    plan = {"plan": str(SHOP / "plan.yaml"),
            "inputs": [f"@{SHOP / 'values.yaml'}", f"namespace={namespace}",
                       f"registry={real_cluster.registry}"]}
    parameters = StdioServerParameters(
        command=PHASEGATE, cwd=str(tmp_path), env={**os.environ},
        args=["mcp", "--allow-apply", "--kubeconfig", str(real_cluster.kubeconfig),
              "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "reports")])

    async def session() -> dict[str, Any]:
        async with Client(parameters) as client:
            seen = {"check": structured(await client.call_tool("check", plan))}
            seen["plan"] = structured(await client.call_tool("plan", plan))
            seen["wrong"] = structured(await client.call_tool(
                "apply", {**plan, "plan_hash": "0" * 64}))
            with connect(real_cluster) as api:
                seen["after wrong"] = api.get(f"/api/v1/namespaces/{namespace}")
            seen["apply"] = structured(await client.call_tool(
                "apply", {**plan, "plan_hash": seen["plan"]["plan_hash"]}))
            seen["evidence"] = structured(await client.call_tool(
                "evidence", {"run": seen["apply"]["run_id"], "format": "md"}))
            seen["status"] = structured(await client.call_tool("run_status", {}))
            return seen

    seen = asyncio.run(session())
    assert seen["check"]["passed"], seen["check"]
    planned = seen["plan"]
    assert planned["status"] == "passed" and planned["plan_hash"]
    assert [p["name"] for p in planned["preview"]["phases"]] == [
        "foundation", "database", "api", "migrate"]
    assert f"Namespace {namespace}" in planned["preview_markdown"]
    wrong = seen["wrong"]
    assert wrong["status"] == "refused" and "approved hash 000" in wrong["detail"]
    assert wrong["phases"] == [] and seen["after wrong"] is None  # nothing was applied
    applied = seen["apply"]
    assert applied["status"] == "passed", applied["detail"]
    assert [p["status"] for p in applied["phases"]] == ["passed"] * 4
    assert "GET /health on service api:80" in seen["evidence"]["content"]
    assert seen["status"]["run_id"] == applied["run_id"]
    assert seen["status"]["status"] == "passed"
    with connect(real_cluster) as api:
        job = api.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/migrate")
    assert job is not None
    assert any(c["type"] == "Complete" and c["status"] == "True"
               for c in job["status"]["conditions"])
