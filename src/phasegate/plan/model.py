"""The Plan, as pydantic models: the boundary where text becomes typed data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from phasegate import fields
from phasegate.kube import helm, sources
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes.oci import mirrors, reference

Duration = fields.Seconds

# Probe mappings are turned into ProbeCall objects by the loader before validation (so their
# errors keep their location); the schema of a probe comes from the registry (plan.schema).
PROBE_SCHEMA_MARKER = "x-phasegate-probe"
Probe = Annotated[ProbeCall, WithJsonSchema({PROBE_SCHEMA_MARKER: True})]
Paths = fields.Strings
# what a tracer or phase applies: manifest paths, or {kustomize: DIR}
Sources = sources.Sources


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True
    )


class Metadata(Model):
    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", max_length=63)
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Target(Model):
    context: str | None = Field(None, description="the only kubeconfig context allowed")
    server: str | None = Field(None, description="the API server URL the context must point at")
    cluster_uid: str | None = Field(
        None, alias="clusterUID", description="UID of the kube-system namespace of the cluster"
    )
    ca_fingerprint: str | None = Field(
        None, alias="caFingerprint", pattern=r"^sha256:[0-9a-fA-F]{64}$",
        description="sha256 of the cluster CA (DER) the context trusts; pins without kube-system",
    )
    namespace: str | None = None
    kubeconfig: str | None = None
    image_mirrors: dict[str, str] = Field(
        default_factory=dict, alias="imageMirrors",
        description="upstream registry or prefix → mirror the cluster pulls from instead "
        "(docker.io: registry.internal:5000/dockerhub); the longest prefix wins",
    )

    @field_validator("image_mirrors")
    @classmethod
    def _mirrors(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            return mirrors.normalised(value)
        except reference.InvalidReference as exc:
            raise ValueError(str(exc)) from None


class Permission(Model):
    verb: str
    resource: str
    group: str = ""
    subresource: str | None = None
    namespace: str | None = None
    subject: str | None = Field(
        None, alias="as", description="system:serviceaccount:NS:NAME or a user name"
    )


class Assumptions(Model):
    apis: list[str] = Field(default_factory=list, description="group/version/Kind served")
    images: list[str] = Field(default_factory=list, description="image references pullable")
    storage_classes: list[str] = Field(default_factory=list, alias="storageClasses")
    ingress_classes: list[str] = Field(default_factory=list, alias="ingressClasses")
    permissions: list[Permission] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)


class Tracer(Model):
    name: str
    apply: Sources
    assumption: str | None = Field(None, description="what this tracer bullet proves")
    namespace: str | None = None
    gate: list[Probe] = Field(default_factory=list)
    timeout: Duration = 120.0


class RollbackStep(Model):
    apply: Paths | None = None
    delete: Paths | None = None
    command: list[str] | str | None = None


class HelmChart(Model):
    """A Helm release a phase installs or upgrades (``helm upgrade --install``, without
    helm's --wait: the phase's gate decides readiness); its namespace is the target's."""

    release: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=53)
    chart: str | None = Field(None, description="the chart's name (in repo, or under oci)")
    version: str | None = Field(None, description="the chart version (or constraint) to use")
    repo: str | None = Field(None, description="a chart repository URL (its index.yaml)")
    oci: str | None = Field(None, description="oci://registry/path the chart is pushed under")
    path: str | None = Field(None, description="a chart directory or .tgz, relative to the plan")
    values: Paths = Field(default_factory=list, description=(
        "values files, later ones win (the documented way: one profile per environment)"))
    set: dict[str, Any] = Field(default_factory=dict, description=(
        "values by dotted path (image.tag: 1.2), applied after the files"))

    @model_validator(mode="after")
    def _one_source(self) -> HelmChart:
        helm.register_secrets(self.set, self.repo)
        for key in self.set:
            helm.set_path(str(key))  # ValueError: a key helm's --set would misread
        given = [name for name in ("repo", "oci", "path") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("a chart comes from exactly one of repo, oci or path"
                             + (f" (got {' and '.join(given)})" if given else ""))
        if not self.path and not self.chart:
            raise ValueError(f"a chart from {given[0]} needs its name in 'chart'")
        if self.path and self.version:
            raise ValueError("'version' pins a chart from repo or oci; a path is what it is")
        return self


class Phase(Model):
    name: str
    apply: Sources = Field(default_factory=list)
    helm: HelmChart | None = Field(None, description="a Helm release this phase installs")
    gate: list[Probe] = Field(default_factory=list)
    timeout: Duration = 300.0
    rollback: Literal["auto", "none"] | list[RollbackStep] = "auto"
    force: bool = Field(False, description=(
        "take fields other field managers own (server-side apply force); without it such a "
        "conflict fails the phase"))

    @model_validator(mode="after")
    def _one_action(self) -> Phase:
        if self.helm is not None and self.apply:
            raise ValueError("a phase either applies manifests or installs a Helm release; "
                             "split 'apply' and 'helm' into two phases")
        return self


class Plan(Model):
    api_version: Literal["phasegate/v1"] = Field(alias="apiVersion")
    kind: Literal["Plan"]
    metadata: Metadata
    target: Target = Field(default_factory=lambda: Target())
    assumptions: Assumptions = Field(default_factory=lambda: Assumptions())
    tracers: list[Tracer] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    validation: list[Probe] = Field(default_factory=list, alias="validate")

    _source: Path | None = PrivateAttr(default=None)
    _content_hash: str = PrivateAttr(default="")
    _inputs: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def base_dir(self) -> Path:
        return self._source.parent if self._source else Path.cwd()

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs the plan was loaded with (manifests are substituted with them too)."""
        return self._inputs

    @property
    def content_hash(self) -> str:
        return self._content_hash

    def probe_calls(self) -> list[ProbeCall]:
        """Every probe the plan names, in document order."""
        calls = list(self.assumptions.probes)
        for tracer in self.tracers:
            calls.extend(tracer.gate)
        for phase in self.phases:
            calls.extend(phase.gate)
        return calls + list(self.validation)


# Where probe mappings sit in a plan document; the loader converts these first.
PROBE_LISTS: tuple[tuple[str, ...], ...] = (
    ("assumptions", "probes"),
    ("tracers", "*", "gate"),
    ("phases", "*", "gate"),
    ("validate",),
)


def model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the last key of ``path`` (for near-miss field suggestions)."""
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): Plan,
        ("metadata",): Metadata,
        ("target",): Target,
        ("assumptions",): Assumptions,
        ("assumptions", "permissions", "*"): Permission,
        ("tracers", "*"): Tracer,
        ("phases", "*"): Phase,
        ("phases", "*", "helm"): HelmChart,
        ("phases", "*", "rollback", "*"): RollbackStep,
    }
    shape = tuple("*" if isinstance(step, int) else str(step) for step in path)
    return models.get(shape)
