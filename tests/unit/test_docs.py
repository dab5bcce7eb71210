"""The reference docs cannot drift from the registry and the schema."""

from __future__ import annotations

import re
from pathlib import Path

from phasegate.plan import model
from phasegate.probes import registry

DOCS = Path(__file__).resolve().parents[2] / "docs"


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## `([^`]+)`\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_probe_and_field_is_documented() -> None:
    documented = sections((DOCS / "probes.md").read_text())
    assert set(documented) == set(registry.all_probes())
    for kind, spec in registry.all_probes().items():
        for name, info in spec.params.model_fields.items():
            assert f"`{info.alias or name}`" in documented[kind], f"{kind}.{name} undocumented"


def test_every_plan_field_is_documented() -> None:
    text = (DOCS / "plans.md").read_text()
    for section_model in (model.Plan, model.Target, model.Assumptions, model.Tracer,
                          model.Phase, model.Permission, model.Metadata):
        for name, info in section_model.model_fields.items():
            assert f"`{info.alias or name}`" in text or f"{info.alias or name}" in text, (
                f"{section_model.__name__}.{name} undocumented"
            )
