"""The MCP server: phasegate's tools and resources on the SDK's ``MCPServer``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from phasegate import __version__, logs
from phasegate.mcp import resources, service
from phasegate.mcp.evidence_tools import EvidenceTools
from phasegate.mcp.health_tools import HealthTools
from phasegate.mcp.policy import Settings
from phasegate.mcp.service import Service
from phasegate.mcp.task_tools import TaskTools
from phasegate.mcp.workflow_tools import WorkflowTools

INSTRUCTIONS = """phasegate runs infrastructure changes through gates that demand evidence.
Ask reality before you claim anything: `probe` one question, `check` a plan's assumptions,
`plan` to see what would change and get its hash, `apply` only with that hash (and only on a
server started with --allow-apply), then read `run_status` and `evidence`. A gate saying no
is an answer (passed: false), not an error. Tasks: `tasks_next`, `tasks_verify`; domains:
`health`."""

# title, read-only, destructive, idempotent, open world (asks something outside phasegate)
_HINTS: dict[str, tuple[str, bool, bool, bool, bool]] = {
    "probe": ("Ask reality one question", True, False, True, True),
    "check": ("Check a plan's assumptions (stage R)", True, False, True, True),
    "plan": ("Preview a plan and its hash (stage P)", True, False, True, True),
    "apply": ("Apply an approved plan (stages P and I)", False, True, False, True),
    "run_status": ("Where a run stands", True, False, True, False),
    "evidence": ("A run's evidence", True, False, True, False),
    "tasks_list": ("The verified task queue", True, False, True, False),
    "tasks_next": ("The next task", True, False, True, False),
    # records evidence and logs the result in the task file: not read-only, never destructive
    "tasks_verify": ("Verify a task's criteria", False, False, True, True),
    # records a domain's state when it changes, as a probe's answer is recorded
    "health": ("Every domain's health now", True, False, True, True),
}


def build(settings: Settings) -> tuple[MCPServer, Service]:
    """The server and the service its tools share (close it when the server stops)."""
    served = Service(settings)
    server: MCPServer = MCPServer("phasegate", title="phasegate", version=__version__,
                                  instructions=INSTRUCTIONS, log_level="WARNING")
    workflow, evidence, tasks = WorkflowTools(served), EvidenceTools(served), TaskTools(served)
    tools: list[Callable[..., Awaitable[service.Result]]] = [
        workflow.probe, workflow.check, workflow.plan, workflow.apply, evidence.run_status,
        evidence.evidence, tasks.tasks_list, tasks.tasks_next, tasks.tasks_verify,
        HealthTools(served).health]
    for tool in tools:
        name = tool.__name__
        title, read_only, destructive, idempotent, open_world = _HINTS[name]
        server.add_tool(service.answered(tool), name=name, title=title,
                        description=_description(tool, settings),
                        annotations=ToolAnnotations(
                            title=title, read_only_hint=read_only,
                            destructive_hint=destructive, idempotent_hint=idempotent,
                            open_world_hint=open_world))
    resources.add(server)
    return server, served


def _description(tool: Callable[..., Any], settings: Settings) -> str:
    text = " ".join((tool.__doc__ or "").split())
    if tool.__name__ == "apply":
        text += (" This server allows apply." if settings.allow_apply else
                 " This server is read-only: apply is refused.")
    return text


def quiet_logging(verbosity: int) -> None:
    """Masked log lines on stderr (stdout may be the protocol), warnings only unless -v."""
    logs.configure(verbosity)
    if verbosity <= 0:
        logging.getLogger().setLevel(logging.WARNING)
