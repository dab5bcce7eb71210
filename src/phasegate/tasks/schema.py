"""The JSON Schema of a task file's front matter, for editors: criteria verified by any
registered probe, by a recorded plan run, or attested."""

from __future__ import annotations

from typing import Any

from phasegate.plan import schema as plan_schema
from phasegate.tasks.model import FrontMatter, PlanRunParams

SCHEMA_ID = "https://phasegate.dev/schema/task-v1.json"


def task_schema() -> dict[str, Any]:
    schema = FrontMatter.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    plan_run = PlanRunParams.model_json_schema(by_alias=True, mode="validation")
    defs.update(plan_run.pop("$defs", {}))
    defs["PlanRun"] = plan_run
    criterion = defs["CriterionSpec"]
    criterion["properties"]["verify"] = {
        "description": "how the criterion is verified",
        "oneOf": [
            {"$ref": "#/$defs/Probe"},
            {"type": "object", "properties": {"plan_run": {"$ref": "#/$defs/PlanRun"}},
             "required": ["plan_run"], "additionalProperties": False},
            {"const": "attest", "description": "no probe can check it: a person vouches"},
        ],
    }
    return plan_schema.with_probe_definitions(schema, SCHEMA_ID)
