"""The published JSON Schema of domains files: the model plus one entry per probe kind."""

from __future__ import annotations

from typing import Any

from phasegate.domains.model import DomainsFile
from phasegate.plan import schema as plan_schema
from phasegate.plan.model import PROBE_SCHEMA_MARKER

SCHEMA_ID = "https://phasegate.dev/schema/domains-v1.json"


def domains_schema() -> dict[str, Any]:
    schema = _point_at_probe(DomainsFile.model_json_schema(by_alias=True, mode="validation"))
    return plan_schema.with_probe_definitions(schema, SCHEMA_ID)


def _point_at_probe(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get(PROBE_SCHEMA_MARKER):
            return {"$ref": "#/$defs/Probe"}
        return {key: _point_at_probe(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_point_at_probe(item) for item in node]
    return node
