"""What an agent can read without asking anything: the JSON Schemas (plan files, task
front matter, JSON evidence) and phasegate's user documentation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import FunctionResource

SCHEMA_MIME = "application/schema+json"


def _schemas() -> dict[str, tuple[str, Callable[[], dict[str, Any]]]]:
    from phasegate.plan.schema import plan_schema
    from phasegate.reports import schema as evidence
    from phasegate.tasks.schema import task_schema

    return {"plan": ("the JSON Schema of plan files (phasegate schema)", plan_schema),
            "task": ("the JSON Schema of task front matter", task_schema),
            "evidence": ("the JSON Schema of JSON evidence (the evidence tool's json format)",
                         evidence.evidence_schema)}


def docs_dir() -> Path | None:
    """The user documentation: shipped inside the wheel as ``phasegate/docs``, or the
    ``docs/`` of the source checkout phasegate runs from."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "docs", package.parents[1] / "docs"):
        if (candidate / "cli.md").is_file():
            return candidate
    return None


def add(server: MCPServer) -> None:
    for name, (description, build) in _schemas().items():
        server.add_resource(FunctionResource.from_function(
            fn=_schema_text(build),
            uri=f"phasegate://schema/{name}", name=f"{name} schema", description=description,
            mime_type=SCHEMA_MIME))
    found = docs_dir()
    if found is None:
        return
    for page in sorted(found.glob("*.md")):
        title = _title(page)
        server.add_resource(FunctionResource.from_function(
            fn=_page_text(page),
            uri=f"phasegate://docs/{page.stem}", name=f"docs/{page.name}",
            description=title, mime_type="text/markdown"))


def _schema_text(build: Callable[[], dict[str, Any]]) -> Callable[[], str]:
    def resource() -> str:
        return json.dumps(build(), indent=2)

    return resource


def _page_text(page: Path) -> Callable[[], str]:
    def resource() -> str:
        return page.read_text(encoding="utf-8")

    return resource


def _title(page: Path) -> str:
    with page.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("# "):
                return line[2:].strip()
    return page.stem
