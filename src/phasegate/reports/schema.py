"""The JSON Schema of ``phasegate evidence --format json`` (``phasegate schema --for
evidence``): what a CI job or an agent may rely on when it reads a run's evidence."""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://phasegate.dev/schema/evidence-v1.json"

_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
_SECONDS = {"type": ["number", "null"], "minimum": 0}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": sorted(properties)}
    if description:
        schema["description"] = description
    return schema


def evidence_schema() -> dict[str, Any]:
    check = _object({
        "probe": {"type": "string", "description": "the probe kind (tls, k8s.rollout, …)"},
        "name": {"type": "string", "description": "the display name; not unique in a step"},
        "params": {"type": "object", "description": "the probe's parameters, secrets masked"},
        "passed": {"type": "boolean", "description": "the last attempt's answer"},
        "error": {"type": "boolean", "description": "phasegate could not decide"},
        "fail_fast": {"type": "boolean", "description": "waiting could not change it"},
        "stopped": {"type": "boolean", "description": "still waiting when another check of "
                                                      "the gate failed fast: its last answer "
                                                      "is progress, not a cause"},
        "expected": {"type": "string"},
        "observed": {"type": "string"},
        "data": {"type": "object", "description": "the probe's structured observation (SANs "
                 "served, digests, conditions, …), as the probe reports it; secrets masked"},
        "output": {"type": "string", "description": "raw detail, excerpted"},
        "started": _TIME,
        "finished": _TIME,
        "duration": _SECONDS,
        "attempts": {"type": "integer", "minimum": 1},
        "history": {"type": "array", "items": _object({
            "attempt": {"type": "integer", "minimum": 1}, "passed": {"type": "boolean"},
            "observed": {"type": "string"}, "at": _TIME})},
    }, "one probe of a step: its last attempt decides, earlier ones are history")
    step = _object({
        "stage": {"type": "string"},
        "name": {"type": "string", "description": "for people; the fields below say where "
                 "the step belongs"},
        "kind": {"type": "string", "description": "apply, gate, rollback, cleanup, plan, "
                 "rehearsal, resume, criterion, decision; empty for a step of none of these"},
        "phase": {"type": ["string", "null"], "description": "the phase's name (stage I)"},
        "phase_index": {"type": ["integer", "null"], "minimum": 1,
                        "description": "the phase's place in the plan, from 1"},
        "tracer": {"type": ["string", "null"], "description": "the tracer's name (stage 0)"},
        "status": {"type": "string"},
        "started": _TIME, "finished": _MAYBE_TIME, "duration": _SECONDS,
        "timeout": _SECONDS, "detail": {"type": "string"},
        "checks": {"type": "array", "items": {"$ref": "#/$defs/Check"}},
    })
    run = _object({
        "id": {"type": "string"}, "command": {"type": "string"},
        "plan": {"type": ["string", "null"]}, "plan_path": {"type": ["string", "null"]},
        "plan_hash": {"type": ["string", "null"]}, "status": {"type": "string"},
        "started": _TIME, "finished": _MAYBE_TIME, "duration": _SECONDS,
        "summary": {"type": "string"},
        "cluster": {"type": ["object", "null"], "description": "the target's identity"},
    })
    totals = _object({name: {"type": "integer", "minimum": 0}
                      for name in ("checks", "passed", "failed", "attempts")})
    artifact = _object({"name": {"type": "string"}, "media_type": {"type": "string"},
                        "content": {"type": "string"}})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "phasegate evidence of one run",
        **_object({
            "run": {"$ref": "#/$defs/Run"},
            "totals": {"$ref": "#/$defs/Totals"},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
            "artifacts": {"type": "array", "items": {"$ref": "#/$defs/Artifact"}},
        }),
        "$defs": {"Run": run, "Totals": totals, "Step": step, "Check": check,
                  "Artifact": artifact},
    }
