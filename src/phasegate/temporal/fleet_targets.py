"""The targets file of ``phasegate fleet run``: the clusters one plan goes to, each a name,
a kubeconfig (+ context) and inputs, and how the fleet proceeds (canary, waves, failures).
Text comes in here, so errors name file:line:column as a plan's do."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phasegate.errors import PlanError
from phasegate.plan import messages, yamltext

NAME = r"^[a-z0-9]([-a-z0-9]{0,15}[a-z0-9])?$"  # with the fleet id, a run id (40 at most)
SCHEMA_ID = "https://phasegate.dev/schema/fleet-v1.json"
_EXAMPLE = ("a targets file is 'apiVersion: phasegate/v1', 'kind: Fleet' and 'targets:' "
            "(a list of name, kubeconfig, context, inputs)")


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, description="lower-case letters, digits and '-', 17 at most")
    kubeconfig: str = Field(description="relative to the targets file")
    context: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)


class Fleet(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    api_version: Literal["phasegate/v1"] = Field(alias="apiVersion")
    kind: Literal["Fleet"]
    canary: int = Field(1, ge=1, description="the first N targets: the canary wave")
    max_parallel: int = Field(1, ge=1, description="targets per wave after the canary")
    max_failures: int = Field(1, ge=1, description="no further wave once this many failed")
    targets: list[Target] = Field(min_length=1)


def schema() -> dict[str, Any]:
    """The JSON Schema of targets files (``phasegate schema --for fleet``)."""
    document = Fleet.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **document}


def load(path: Path) -> Fleet:
    """The targets file at ``path``, validated; kubeconfig paths made absolute."""
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError("targets file not found", file=filename) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the targets file: {exc}", file=filename) from None
    tree = yamltext.parse(text, filename) if text.strip() else None
    if not isinstance(tree, dict):
        raise PlanError(f"expected a mapping at the top; {_EXAMPLE}", file=filename,
                        line=1, column=1)
    document = yamltext.plain(tree)
    try:
        fleet = Fleet.model_validate(document)
    except ValidationError as exc:
        loc, error, others = messages.pick(exc.errors(), document)
        message = messages.describe(error)
        if others:
            message += f" (and {others} more problem{'s' if others > 1 else ''})"
        suggestion = None
        if error["type"] == "extra_forbidden":
            model = Target if "targets" in loc[:-1] else Fleet
            suggestion = messages.suggest_field(model, str(loc[-1]))
        raise yamltext.located(message, tree, loc, filename, suggestion,
                               at_key=error["type"] == "extra_forbidden") from None
    _check(fleet, tree, filename, path.parent)
    return fleet


def _check(fleet: Fleet, tree: Any, filename: str, base: Path) -> None:
    seen: set[str] = set()
    for index, target in enumerate(fleet.targets):
        if target.name in seen:
            raise yamltext.located(f"target name {target.name!r} is used twice (each names "
                                   "one run of the fleet)", tree, ("targets", index, "name"),
                                   filename)
        seen.add(target.name)
        kubeconfig = (base / target.kubeconfig).resolve()
        if not kubeconfig.is_file():
            raise yamltext.located(f"kubeconfig {target.kubeconfig!r} not found (read as "
                                   f"{kubeconfig})", tree, ("targets", index, "kubeconfig"),
                                   filename)
        target.kubeconfig = str(kubeconfig)
    if fleet.canary > len(fleet.targets):
        raise yamltext.located(f"canary {fleet.canary} is more than the "
                               f"{len(fleet.targets)} targets", tree, ("canary",), filename)
