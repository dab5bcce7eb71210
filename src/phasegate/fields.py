"""Field types shared by every model that reads text (plans, probes, tasks): what they
accept, and the JSON Schema that says so to editors."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

from phasegate.durations import parse_duration

DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h))+$|^\d+(\.\d+)?$"


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "seconds, or a duration such as 500ms, 30s, 2m, 1h30m",
        }
    ),
]

# One string or a list of them (paths, ids): a single value needs no brackets.
Strings = Annotated[
    list[str],
    BeforeValidator(_one_or_many),
    WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    ),
]
