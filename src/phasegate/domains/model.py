"""``domains.yaml`` as pydantic models: the boundary where the file becomes typed data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from phasegate import fields
from phasegate.plan.model import Probe, Target

NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$"
DEFAULT_INTERVAL = 30.0  # a health probe asked every 30 s unless the file says otherwise

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True
    )


class Quorum(Model):
    quorum: int = Field(ge=1, description=(
        "up while at least this many probes pass: healthy when all pass, degraded when at "
        "least this many do, down below"))


class DegradedBelow(Model):
    degraded_below: int = Field(ge=1, description=(
        "healthy while at least this many probes pass, degraded below, down when none does"))


Policy = Literal["all"] | Quorum | DegradedBelow


class Domain(Model):
    owner: str | None = Field(None, description="the team that owns the domain")
    description: str | None = None
    paths: fields.Strings = Field(default_factory=list, description=(
        "repository globs of the files that belong to the domain (services/payments/**)"))
    plans: fields.Strings = Field(default_factory=list, description=(
        "the plans that deploy it, relative to this file"))
    namespace: str | None = Field(None, description=(
        "the default namespace of its Kubernetes probes (else the file's target.namespace)"))
    health: list[Probe] = Field(default_factory=list, description=(
        "probes that say whether it is healthy; each may set its own interval"))
    interval: fields.Seconds | None = Field(None, description=(
        "how often its probes are asked under --watch, unless a probe sets its own"))
    depends_on: fields.Strings = Field(default_factory=list, description=(
        "domains it needs: while one is down this one shows down (cause: that domain)"))
    policy: Policy = Field("all", description=(
        "how its probes roll up: all (any failing probe: down), {quorum: N} or "
        "{degraded_below: N}"))


def needed(policy: Policy) -> int:
    """How many passing probes the policy names (0 for ``all``)."""
    if isinstance(policy, Quorum):
        return policy.quorum
    if isinstance(policy, DegradedBelow):
        return policy.degraded_below
    return 0


class DomainsFile(Model):
    api_version: Literal["phasegate/v1"] = Field(alias="apiVersion")
    kind: Literal["Domains"]
    target: Target = Field(default_factory=lambda: Target(), description=(
        "where the Kubernetes probes run: the same fields as a plan's target"))
    interval: fields.Seconds = Field(DEFAULT_INTERVAL, description=(
        "how often a probe is asked under --watch unless its domain or itself says"))
    domains: dict[Name, Domain] = Field(default_factory=dict)

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def base_dir(self) -> Path:
        return self._source.parent if self._source else Path.cwd()

    def interval_of(self, name: str, index: int) -> float:
        """Seconds between two askings of the domain's probe ``index`` under --watch."""
        domain = self.domains[name]
        call = domain.health[index]
        if call.interval is not None:
            return call.interval
        return domain.interval if domain.interval is not None else self.interval

    def plan_paths(self, name: str) -> list[Path]:
        """The domain's plans, resolved as runs record them (``runs.plan_path``)."""
        return [(self.base_dir / plan).resolve() for plan in self.domains[name].plans]


# Where probe mappings sit in the document; the loader turns them into ProbeCalls first.
PROBE_LISTS: tuple[tuple[str, ...], ...] = (("domains", "*", "health"),)


def model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the last key of ``path`` (for near-miss field suggestions)."""
    if len(path) == 0:
        return DomainsFile
    if path == ("target",):
        return Target
    if len(path) == 2 and path[0] == "domains":
        return Domain
    return None
