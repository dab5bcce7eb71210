"""What a phase applies, as the plan names it: manifest paths, or a source that renders
objects (a Kustomize overlay; a Helm chart plugs in the same way).

A source is plain data (it is validated in plans and probe parameters, and stored). A
string is a file or directory of manifests, read by ``kube.manifests`` itself; any other
source is a :class:`Renderer`: it renders to YAML text once per run, and
``kube.manifests`` parses that text exactly as it parses a file. Adding a source kind means
one model with ``render`` and ``describe`` here, added to :data:`Source`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from phasegate.kube import kustomize


@dataclass(frozen=True)
class Rendered:
    """YAML text a source rendered, and where it came from (a directory, a chart
    template): its objects' sources read ``{source}#{document number}``."""

    source: str
    text: str


@runtime_checkable
class Renderer(Protocol):
    def render(self, base_dir: Path) -> list[Rendered]: ...

    def describe(self) -> str: ...


class Kustomize(BaseModel):
    """``{kustomize: overlays/staging}``: the objects ``kubectl kustomize DIR`` renders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kustomize: str = Field(min_length=1, description=(
        "a directory holding a kustomization.yaml, relative to the plan"))

    @model_validator(mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        # a misspelt key reads better as what a source mapping is than as two errors
        if isinstance(value, dict) and "kustomize" not in value:
            close = difflib.get_close_matches("kustomize", [str(k) for k in value], n=1)
            hint = f" — did you mean 'kustomize' for '{close[0]}'?" if close else ""
            raise ValueError("a manifest source is a path or {kustomize: DIR}; found keys "
                             + ", ".join(map(str, value)) + hint)
        return value

    def render(self, base_dir: Path) -> list[Rendered]:
        directory = base_dir / self.kustomize
        return [Rendered(str(directory), kustomize.build(directory))]

    def describe(self) -> str:
        return f"kustomize {self.kustomize}"


Source = str | Kustomize


def _kind(value: Any) -> str:
    return "overlay" if isinstance(value, (dict, Kustomize)) else "path"


# Tagged by shape, so a bad mapping is told about the mapping, not that it is no string.
_Tagged = Annotated[
    Annotated[str, Tag("path")] | Annotated[Kustomize, Tag("overlay")],
    Discriminator(_kind),
]


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, (str, dict, BaseModel)) else value


_ONE = {"anyOf": [
    {"type": "string", "description": "a manifest file or directory, relative to the plan"},
    {"type": "object", "required": ["kustomize"], "additionalProperties": False,
     "properties": {"kustomize": {
         "type": "string", "minLength": 1,
         "description": "a Kustomize overlay directory (rendered as kubectl kustomize "
                        "does), relative to the plan"}}},
]}

# One source or a list of them: `apply: m.yaml`, `apply: [a.yaml, dir/]`,
# `apply: {kustomize: overlays/staging}`.
Sources = Annotated[
    list[_Tagged],
    BeforeValidator(_one_or_many),
    WithJsonSchema({"anyOf": [*_ONE["anyOf"], {"type": "array", "items": _ONE}]}),
]


def describe(sources: list[Source]) -> str:
    """``a.yaml, kustomize overlays/staging``: for messages and step names."""
    return ", ".join(s if isinstance(s, str) else s.describe() for s in sources)


def plain(sources: list[Source]) -> list[Any]:
    """The sources as plan text writes them (for probe parameters and the store)."""
    return [s if isinstance(s, str) else s.model_dump() for s in sources]
