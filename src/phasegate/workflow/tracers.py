"""Stage 0 — tracer bullets: minimal specs for the riskiest assumptions, applied into a
scratch namespace (unless told otherwise), waited on, and always cleaned up — on success,
on failure and on interruption. A tracer passes only when its gate passed *and* its
cleanup left nothing behind."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from phasegate.engine import progress
from phasegate.errors import ActionError, PhasegateError, PlanError
from phasegate.kube import apply, connections, manifests
from phasegate.kube.client import KubeClient, status_message
from phasegate.plan.model import Tracer
from phasegate.store import records
from phasegate.workflow import recorded_gate, stopping
from phasegate.workflow.session import Progress, Session

NAMESPACE_GONE_TIMEOUT = 120.0  # the namespace controller retries every few seconds


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
    scratch, namespace = where(session.run_id, tracer)
    session.say(f"0 · tracer {tracer.name}: applying into {namespace}")
    applied: list[apply.Applied] = []
    try:
        outcome = (await apply_tracer(session, tracer, namespace, scratch, applied)
                   or await gate_tracer(session, tracer, namespace))
    finally:
        left = await clean_up(session, tracer, [leftover(a) for a in applied], scratch,
                              namespace)
    return concluded(outcome, left)


def where(run_id: str, tracer: Tracer) -> tuple[bool, str]:
    """Whether the tracer gets a scratch namespace, and the namespace it goes into."""
    return tracer.namespace is None, tracer.namespace or scratch_namespace(run_id, tracer.name)


def concluded(outcome: TracerOutcome, left: str) -> TracerOutcome:
    """A tracer passes only when its cleanup left nothing behind."""
    if left:
        return TracerOutcome(outcome.name, outcome.assumption, False,
                             f"{outcome.evidence}; cleanup failed, left behind: {left}")
    return outcome


def scratch_namespace(run_id: str, tracer: str) -> str:
    return f"pg-tracer-{run_id[-6:]}-{_slug(tracer)}"[:63].rstrip("-")


def leftover(item: apply.Applied) -> dict[str, Any]:
    """What cleanup needs to know of an object a tracer applied, as plain data."""
    meta = item.live.get("metadata", {})
    return {"ref": item.ref, "kind": item.live.get("kind", ""),
            "apiVersion": item.live.get("apiVersion"), "namespace": meta.get("namespace"),
            "name": meta.get("name", ""), "uid": meta.get("uid")}


async def apply_tracer(session: Session, tracer: Tracer, namespace: str, scratch: bool,
                       applied: list[apply.Applied]) -> TracerOutcome | None:
    """Apply the tracer (``applied`` collects what must be cleaned up); the outcome when
    it was refused, None when its gate is next."""
    client = session.client()
    step = session.store.start_step(session.run_id, "0", f"tracer {tracer.name} · apply",
                                    place=records.StepPlace(records.APPLY, tracer=tracer.name))
    waited = ""
    with stopping.closed_on_stop(session.store, step):
        try:
            if scratch:
                # a resume after kill -9 can find the scratch namespace still going away
                seconds = await until_namespace_gone(
                    client, namespace, only_if_terminating=True, say=session.say,
                    on_wait=session.on_wait, gate=f"0 · tracer {tracer.name} · apply")
                if seconds is not None:
                    waited = (f" (after waiting {seconds:.1f} s for the terminating "
                              f"{namespace} to go)")
                namespace_manifest = manifests.Manifest(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                    "scratch namespace")
                applied.append(await apply.apply_one(client, namespace_manifest, namespace))
            loaded = manifests.load(tracer.apply, session.plan.base_dir, session.plan.inputs)
            for manifest in loaded:  # one by one: what was applied before a refusal is cleaned up
                applied += await apply.apply_all(client, [manifest], namespace)
        except PlanError:
            raise
        except PhasegateError as exc:
            session.store.finish_step(step, "failed", str(exc))
            return TracerOutcome(tracer.name, tracer.assumption or "", False, f"refused: {exc}")
        session.store.finish_step(step, "passed", ", ".join(a.ref for a in applied) + waited)
    return None


async def gate_tracer(session: Session, tracer: Tracer, namespace: str) -> TracerOutcome:
    """The tracer's gate, in the namespace it was applied into."""
    target = connections.target_of(session.ctx)
    ctx = session.with_extras(kube=connections.KubeTarget(target.kubeconfig, target.context,
                                                          namespace))
    result = await recorded_gate.run(session.store, session.run_id, "0",
                                     f"tracer {tracer.name} · gate", tracer.gate, ctx,
                                     tracer.timeout, session.on_observation,
                                     on_wait=session.on_wait,
                                     place=records.StepPlace(records.GATE, tracer=tracer.name))
    if result.passed:
        evidence = f"passed in {result.duration:.1f} s"
    else:
        evidence = "; ".join(o.observed for o in result.finals if not o.passed)
    return TracerOutcome(tracer.name, tracer.assumption or "", result.passed, evidence)


async def clean_up(session: Session, tracer: Tracer, applied: list[dict[str, Any]],
                   scratch: bool, namespace: str) -> str:
    """Delete what the tracer applied (``leftover`` records), the scratch namespace last
    (waiting until it is gone); returns what is left behind, each with why ("" when
    nothing)."""
    client = session.client()
    store = session.store
    step = store.start_step(session.run_id, "0", f"tracer cleanup {namespace}",
                            place=records.StepPlace(records.CLEANUP, tracer=tracer.name))
    removed: list[str] = []
    left: list[str] = []
    with stopping.closed_on_stop(store, step):
        for item in reversed(applied):
            kind = item["kind"]
            if kind == "Namespace" and scratch:
                continue
            try:
                resource = await client.find_kind(kind, item["apiVersion"])
                # by UID: an object someone made under the same name since is not ours
                outcome = await apply.delete(client, resource, item["namespace"],
                                             item["name"], timeout=30, uid=item["uid"])
                removed.append(item["ref"] if not outcome.startswith("held by") else
                               f"{item['ref']} (gone; the name is {outcome} now, left alone)")
            except PhasegateError as exc:
                left.append(f"{item['ref']} ({exc})")
        if scratch and applied:
            try:
                await _delete_namespace(client, namespace, wait=not left,
                                        on_wait=session.on_wait,
                                        gate=f"0 · tracer cleanup {namespace}")
                removed.append(f"Namespace {namespace}")
            except PhasegateError as exc:
                left.append(f"Namespace {namespace} ({exc})")
    detail = "removed " + (", ".join(removed) or "nothing")
    if left:
        detail += "; left behind: " + "; ".join(left)
    store.finish_step(step, "failed" if left else "passed", detail)
    return "; ".join(left)


async def _delete_namespace(client: KubeClient, name: str, wait: bool,
                            on_wait: progress.Listener | None, gate: str) -> None:
    response = await client.request("DELETE", f"/api/v1/namespaces/{name}")
    if response.status_code >= 400 and response.status_code != 404:
        raise ActionError(f"deleting namespace {name} refused: {status_message(response)}")
    if wait:
        await until_namespace_gone(client, name, on_wait=on_wait, gate=gate)
    elif response.status_code != 404:
        raise ActionError("deletion requested; it completes once what is left is gone")


async def until_namespace_gone(client: KubeClient, name: str, *,
                               only_if_terminating: bool = False,
                               timeout: float = NAMESPACE_GONE_TIMEOUT,
                               say: Progress | None = None,
                               on_wait: progress.Listener | None = None,
                               gate: str = "") -> float | None:
    """Wait until namespace ``name`` no longer exists; with ``only_if_terminating``, return
    at once unless it is being deleted. Returns the seconds waited (None: no wait); on
    timeout, says what holds it (its conditions). ``on_wait`` hears the wait as a gate's
    probe would, under the label ``gate``."""
    path = f"/api/v1/namespaces/{name}"
    started = time.monotonic()
    deadline = started + timeout
    current = await client.get(path)
    if current is None or (only_if_terminating and
                           not current["metadata"].get("deletionTimestamp")):
        return None
    if say is not None:
        say(f"0 · namespace {name} is still terminating: waiting until it is gone")
    attempt = 1

    def tell(state: progress.State, observed: str) -> None:
        if on_wait is not None:
            on_wait(progress.ProbeWait(gate, 0, f"Namespace {name}", state, "gone", observed,
                                       time.monotonic() - started, timeout, attempt,
                                       "every 0.5s"))

    while current is not None:
        held = [c.get("message", "") for c in (current.get("status") or {}).get(
            "conditions") or [] if c.get("status") == "True"]
        observed = "terminating" + (f": {'; '.join(held)}" if held else "")
        if time.monotonic() >= deadline:
            tell("timed out", observed)
            raise ActionError(f"namespace {name} still terminating after {timeout:g} s"
                              + (f": {'; '.join(held)}" if held else ""))
        tell("waiting", observed)
        await asyncio.sleep(0.5)
        attempt += 1
        current = await client.get(path)
    tell("passed", "gone")
    return time.monotonic() - started


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
