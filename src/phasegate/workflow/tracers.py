"""Stage 0 — tracer bullets: minimal specs for the riskiest assumptions, applied into a
scratch namespace (unless told otherwise), waited on, and always cleaned up — on success,
on failure and on interruption."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from phasegate.errors import PhasegateError
from phasegate.kube import apply, connections, manifests
from phasegate.plan.model import Tracer
from phasegate.workflow import recorded_gate
from phasegate.workflow.session import Session


@dataclass(frozen=True)
class TracerOutcome:
    name: str
    assumption: str
    passed: bool
    evidence: str


async def run_tracers(session: Session) -> list[TracerOutcome]:
    outcomes = []
    for tracer in session.plan.tracers:
        outcomes.append(await run_tracer(session, tracer))
    return outcomes


async def run_tracer(session: Session, tracer: Tracer) -> TracerOutcome:
    client = session.client()
    scratch = tracer.namespace is None
    namespace = tracer.namespace or f"pg-tracer-{session.run_id[-6:]}-{_slug(tracer.name)}"[:63]
    session.say(f"0 · tracer {tracer.name}: applying into {namespace}")
    applied: list[apply.Applied] = []
    step = session.store.start_step(session.run_id, "0", f"tracer {tracer.name} · apply")
    try:
        if scratch:
            namespace_manifest = manifests.Manifest(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                "scratch namespace")
            applied.append(await apply.apply_one(client, namespace_manifest, namespace))
        loaded = manifests.load(tracer.apply, session.plan.base_dir, session.plan.inputs)
        try:
            applied += await apply.apply_all(client, loaded, namespace)
        except PhasegateError as exc:
            session.store.finish_step(step, "failed", str(exc))
            return TracerOutcome(tracer.name, tracer.assumption or "", False, f"refused: {exc}")
        session.store.finish_step(step, "passed", ", ".join(a.ref for a in applied))
        ctx = session.with_extras(kube=connections.KubeTarget(
            connections.target_of(session.ctx).kubeconfig,
            connections.target_of(session.ctx).context, namespace))
        result = await recorded_gate.run(session.store, session.run_id, "0",
                                         f"tracer {tracer.name} · gate", tracer.gate, ctx,
                                         tracer.timeout, session.on_observation)
        if result.passed:
            evidence = f"passed in {result.duration:.1f} s"
        else:
            evidence = "; ".join(o.observed for o in result.finals if not o.passed)
        return TracerOutcome(tracer.name, tracer.assumption or "", result.passed, evidence)
    finally:
        await _clean_up(session, applied, scratch, namespace)


async def _clean_up(session: Session, applied: list[apply.Applied], scratch: bool,
                    namespace: str) -> None:
    client = session.client()
    step = session.store.start_step(session.run_id, "0", f"tracer cleanup {namespace}")
    removed = []
    for item in reversed(applied):
        kind = item.live.get("kind", "")
        if kind == "Namespace" and scratch:
            continue
        with contextlib.suppress(PhasegateError):
            resource = await client.find_kind(kind, item.live.get("apiVersion"))
            meta = item.live.get("metadata", {})
            await apply.delete(client, resource, meta.get("namespace"), meta.get("name", ""),
                               timeout=30)
            removed.append(item.ref)
    if scratch:
        with contextlib.suppress(PhasegateError):
            await client.request("DELETE", f"/api/v1/namespaces/{namespace}")
            removed.append(f"Namespace {namespace}")
    session.store.finish_step(step, "passed", "removed " + (", ".join(removed) or "nothing"))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
