"""Stage R — reality check: the plan's assumptions, evaluated read-only as one gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from phasegate.engine import progress
from phasegate.engine.gate import GateResult
from phasegate.errors import ActionError, PlanError
from phasegate.kube import helm, sources
from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.plan.model import Plan
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import registry
from phasegate.probes.oci import mirrors, reference
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import helm_render, single_gate
from phasegate.workflow.single_gate import StageResult


def assumption_calls(plan: Plan) -> list[ProbeCall]:
    """Every assumption the plan makes, as probe calls; typed assumptions map to their probes."""
    a = plan.assumptions
    namespace = plan.target.namespace
    typed: list[tuple[str, str, list[dict[str, Any]]]] = [
        ("apis", "k8s.api", [{"api": api} for api in a.apis]),
        ("images", "image", _images(plan)),
        ("storageClasses", "k8s.storage_class", [{"name": n} for n in a.storage_classes]),
        ("ingressClasses", "k8s.ingress_class", [{"name": n} for n in a.ingress_classes]),
        (
            "permissions",
            "k8s.can_i",
            [
                {**p.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True),
                 **({"namespace": p.namespace or namespace} if (p.namespace or namespace)
                    else {})}
                for p in a.permissions
            ],
        ),
    ]
    calls: list[ProbeCall] = []
    for field, kind, params_list in typed:
        if not params_list:
            continue
        if registry.get(kind) is None:
            raise PlanError(
                f"checking {field} needs the '{kind}' probe, which this version of phasegate "
                "does not provide; express the assumption as a probe under assumptions.probes",
                file=str(plan.source) if plan.source else None,
                path=f"assumptions.{field}",
            )
        for params in params_list:
            try:
                calls.append(probe_call.build({kind: params}))
            except probe_call.ProbeCallError as exc:
                raise PlanError(str(exc), path=f"assumptions.{field}") from None
    phase_paths = [path for phase in plan.phases for path in phase.apply]
    if phase_paths and plan.target.context:
        calls.append(probe_call.build({"k8s.divergence": {"apply": sources.plain(phase_paths)},
                                       "name": "divergence check"}))
    return calls + _chart_calls(plan) + list(a.probes)


def _chart_calls(plan: Plan) -> list[ProbeCall]:
    """Each helm phase's chart resolves and renders, and its APIs are served."""
    if not plan.target.context:
        return []
    namespace = {"namespace": plan.target.namespace} if plan.target.namespace else {}
    return [probe_call.build({"helm.chart": {
        **phase.helm.model_dump(exclude_none=True, exclude_defaults=True), **namespace},
        "name": f"chart of phase {phase.name}"})
        for phase in plan.phases if phase.helm is not None]


def manifests_valid(plan: Plan) -> None:
    """Every manifest the plan names (phases, tracers, rollback steps) is read and rendered
    once up front: one that is not Kubernetes YAML is bad input (PlanError, exit 2) from
    every command, never a probe crash in the middle of a run."""
    from phasegate.kube import manifests

    groups: list[list[sources.Source]] = [phase.apply for phase in plan.phases]
    groups += [t.apply for t in plan.tracers]
    for phase in plan.phases:
        if isinstance(phase.rollback, list):
            groups += [list(step.apply or []) for step in phase.rollback]
            groups += [list(step.delete or []) for step in phase.rollback]
    for paths in groups:
        if paths:
            manifests.load(paths, plan.base_dir, plan.inputs)
    if any(phase.helm is not None for phase in plan.phases):
        helm_render.inputs_valid(plan)
        helm.find_binary()  # none: exit 2 saying how to get one, before anything runs


CONTRACT_KINDS = frozenset({"file", "git", "command", "http", "tcp", "dns", "tls"})


def contract_calls(plan: Plan) -> list[ProbeCall]:
    """The ``contract`` level: what can be checked with no cluster — every manifest against
    Kubernetes' schemas, plus the plan's file, git, command and network probes."""
    paths = [path for phase in plan.phases for path in phase.apply]
    paths += [path for tracer in plan.tracers for path in tracer.apply]
    calls = [probe_call.build({"k8s.schema": {"apply": sources.plain(paths)},
                               "name": "manifests valid"})
             ] if paths else []
    return calls + [c for c in plan.assumptions.probes if c.kind in CONTRACT_KINDS]


def _images(plan: Plan) -> list[dict[str, str]]:
    """``assumptions.images``, then every other image the plan's manifests would pull, as
    image probe parameters: where the cluster pulls each from (its mirror, when
    ``target.imageMirrors`` names one) and, then, the name the plan wrote."""
    return [{"ref": str(m.mirror), "upstream": str(m.upstream)} if m.mirrored
            else {"ref": m.written} for m in needed_images(plan)]


@dataclass(frozen=True)
class NeededImage:
    written: str  # as the plan or manifest wrote it
    upstream: reference.Reference | None  # None: not a valid reference (the probe says why)
    mirror: reference.Reference | None  # the upstream itself when no imageMirrors prefix matches

    @property
    def mirrored(self) -> bool:
        return self.mirror != self.upstream


def needed_images(plan: Plan, *, charts_must_render: bool = False) -> list[NeededImage]:
    """Every image the plan needs (``assumptions.images``, then its tracers' and phases'
    manifests), once each, with where the cluster will pull it from. An invalid reference
    in ``assumptions.images`` is kept as written (the probe call says what is wrong). A
    chart that does not render adds no image, unless ``charts_must_render``: then it is a
    PlanError (nothing else would say its images were never looked at)."""
    from phasegate.plan import manifest_images

    written: list[tuple[str, str | None, str | None]] = [
        (ref, None, None) for ref in plan.assumptions.images]
    paths = manifest_images.apply_paths(plan)
    written += [(image.ref, image.path, str(image.file))
                for image in manifest_images.find(paths, plan.base_dir, plan.inputs)]
    written += _chart_images(plan, charts_must_render)
    seen: set[str] = set()
    found: list[NeededImage] = []
    for ref, where, file in written:
        try:
            upstream = reference.parse(ref)
            chosen = mirrors.resolve(upstream, plan.target.image_mirrors)
        except reference.InvalidReference as exc:
            if where is None:  # nginx and docker.io/library/nginx:latest are one
                if ref not in seen:
                    seen.add(ref)
                    found.append(NeededImage(ref, None, None))
                continue
            raise PlanError(f"{where}: {exc}", file=file) from None
        mirror = chosen.mirror if chosen else upstream
        if str(mirror) not in seen:
            seen.add(str(mirror))
            found.append(NeededImage(ref, upstream, mirror))
    return found


async def check(
    plan: Plan,
    store: EvidenceStore,
    timeout: float = 0.0,
    on_observation: Callable[[Observation], None] | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    on_wait: progress.Listener | None = None,
) -> StageResult:
    recorded = single_gate.GateRun(
        "check", "R", "reality check", _summary, {}, plan_name=plan.metadata.name,
        plan_path=str(plan.source) if plan.source else None, plan_hash=plan.content_hash)
    manifests_valid(plan)
    return await single_gate.run(store, recorded, assumption_calls(plan), plan.target,
                                 plan.base_dir, timeout, on_observation, context=context,
                                 kubeconfig=kubeconfig, inputs=plan.inputs, on_wait=on_wait)


def _summary(result: GateResult) -> str:
    failed = [o for o in result.finals if not o.passed]
    if not failed:
        return f"all {len(result.finals)} assumptions verified"
    names = "; ".join(f"{o.name}: {o.observed}" for o in failed[:5])
    return f"{len(failed)} of {len(result.finals)} assumptions failed — {names}"


def _chart_images(plan: Plan, must_render: bool) -> list[tuple[str, str | None, str | None]]:
    """The images a helm phase's rendered objects and hooks pull. A chart that does not
    render adds none (its ``helm.chart`` assumption says why), or is a PlanError."""
    from phasegate.plan import manifest_images

    found: list[tuple[str, str | None, str | None]] = []
    for index, phase in enumerate(plan.phases):
        if phase.helm is None:
            continue
        try:
            rendered = helm_render.render(plan, phase, plan.target.namespace or "default")
        except ActionError as exc:
            if must_render:
                raise PlanError(f"phase {phase.name}: its chart's images cannot be known: "
                                f"{exc}", file=str(plan.source) if plan.source else None,
                                path=f"phases[{index}].helm") from None
            continue
        for manifest in [*rendered.objects, *rendered.hooks]:
            found += [(ref, where, manifest.source)
                      for ref, where in manifest_images.in_object(manifest.obj)]
    return found
