"""The published JSON Schema of domains files: the model plus one entry per probe kind."""

from __future__ import annotations

from typing import Any

from phasegate.domains.model import DomainsFile
from phasegate.plan import schema as plan_schema

SCHEMA_ID = "https://phasegate.dev/schema/domains-v1.json"


def domains_schema() -> dict[str, Any]:
    model = DomainsFile.model_json_schema(by_alias=True, mode="validation")
    schema = plan_schema.point_at_probe(model)
    return plan_schema.with_probe_definitions(schema, SCHEMA_ID)

