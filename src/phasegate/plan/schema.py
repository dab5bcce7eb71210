"""The published JSON Schema of plan files: the Plan model plus one entry per probe kind."""

from __future__ import annotations

from typing import Any

from phasegate.plan.model import PROBE_SCHEMA_MARKER, Plan
from phasegate.probes import registry

SCHEMA_ID = "https://phasegate.dev/schema/plan-v1.json"


def probe_schemas() -> dict[str, dict[str, Any]]:
    """Each probe kind's parameter schema, by kind."""
    return {
        kind: spec.params.model_json_schema(by_alias=True, mode="validation")
        for kind, spec in registry.all_probes().items()
    }


def plan_schema() -> dict[str, Any]:
    schema = point_at_probe(Plan.model_json_schema(by_alias=True, mode="validation"))
    return with_probe_definitions(schema, SCHEMA_ID)


def with_probe_definitions(schema: dict[str, Any], schema_id: str) -> dict[str, Any]:
    """``schema`` with ``#/$defs/Probe`` (one variant per registered probe kind) defined."""
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    variants = []
    for kind, params in probe_schemas().items():
        name = f"Probe_{kind.replace('.', '_')}"
        nested = params.pop("$defs", {})
        defs.update(nested)
        defs[name] = params
        spec = registry.get(kind)
        variants.append(
            {
                "type": "object",
                "description": spec.summary if spec else kind,
                "properties": {
                    kind: {"$ref": f"#/$defs/{name}"},
                    "name": {"type": "string", "description": "label in reports"},
                    "interval": {"$ref": "#/$defs/Duration"},
                    "max_interval": {"$ref": "#/$defs/Duration"},
                },
                "required": [kind],
                "additionalProperties": False,
            }
        )
    defs["Duration"] = {
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
        "description": "seconds, or a duration such as 500ms, 30s, 2m",
    }
    defs["Probe"] = {"description": "a probe: a one-key mapping naming it", "oneOf": variants}
    schema = _allow_placeholders(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, **schema}


PLACEHOLDER = {"type": "string", "pattern": r"^\$\{(input\.[A-Za-z0-9_.-]+|env:[A-Za-z_]\w*)\}$",
               "description": "an input or environment placeholder, e.g. ${input.port}"}
_TYPED = ("integer", "number", "boolean")


def _allow_placeholders(node: Any) -> Any:
    """Wherever a number or boolean is expected, a ``${input.x}`` placeholder is valid too:
    the loader substitutes it (keeping the input's type) before validating."""
    if isinstance(node, list):
        return [_allow_placeholders(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _allow_placeholders(value) for key, value in node.items()}
    kinds = node.get("type")
    if kinds in _TYPED or (isinstance(kinds, list) and set(kinds) & set(_TYPED)):
        return {"anyOf": [node, PLACEHOLDER]}
    return node


def point_at_probe(node: Any) -> Any:
    """The schema with every field marked as a probe pointing at the one Probe definition."""
    if isinstance(node, dict):
        if node.get(PROBE_SCHEMA_MARKER):
            return {"$ref": "#/$defs/Probe"}
        return {key: point_at_probe(value) for key, value in node.items()}
    if isinstance(node, list):
        return [point_at_probe(item) for item in node]
    return node
