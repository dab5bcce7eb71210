"""Readiness of what a change applied: the ``k8s.ready`` gate over a list of objects.

A phase that applies objects and names no ``gate`` is gated by ``k8s.ready`` over every
object it applied (its journal), so "applied" never passes for "ready". ``gate: []`` says,
explicitly, that the phase has no gate. Anything else that applies objects (a Helm
release's manifest) gates them the same way with :func:`run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from phasegate.engine import gate
from phasegate.plan import probe_call
from phasegate.plan.model import Phase
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes.base import ProbeContext
from phasegate.store import records
from phasegate.workflow import recorded_gate
from phasegate.workflow.session import Session

KIND = "k8s.ready"
REF_KEYS = ("apiVersion", "kind", "name", "namespace")
DEFAULT_NAME = f"{KIND} of every object it applies (default gate)"


def call_for(refs: Iterable[Mapping[str, Any]]) -> ProbeCall | None:
    """One ``k8s.ready`` call over ``refs``, each a reference ({apiVersion?, kind, name,
    namespace?}; more keys, as in a journal entry, are ignored) or a whole object (a rendered
    manifest: its metadata names it); None when there is nothing to wait for. Objects
    without a namespace are looked for in the target's namespace (cluster-scoped kinds:
    nowhere)."""
    objects: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for ref in refs:
        meta = ref.get("metadata")
        if isinstance(meta, Mapping):
            ref = {**ref, "name": meta.get("name"), "namespace": meta.get("namespace")}
        picked = {k: ref[k] for k in REF_KEYS if ref.get(k)}
        key = tuple(picked.get(k) for k in REF_KEYS)
        if "kind" in picked and "name" in picked and key not in seen:
            seen.add(key)
            objects.append(picked)
    if not objects:
        return None
    return probe_call.build({KIND: {"objects": objects}})


def is_default(phase: Phase) -> bool:
    """The phase names no gate of its own (``gate: []`` is a choice: no gate)."""
    return "gate" not in phase.model_fields_set


def phase_gate(phase: Phase, applied: Sequence[Mapping[str, Any]]) -> list[ProbeCall]:
    """The gate a phase runs after applying ``applied`` (its journal entries)."""
    if not is_default(phase):
        return list(phase.gate)
    call = call_for(applied)
    return [call] if call is not None else []


def described(phase: Phase) -> list[str]:
    """The phase's gate as a preview shows it, before anything is applied."""
    if not is_default(phase):
        return [call.name for call in phase.gate]
    return [DEFAULT_NAME] if phase.apply else []


async def run(session: Session, stage: str, label: str, refs: Iterable[Mapping[str, Any]],
              timeout: float, *, place: records.StepPlace = recorded_gate.GATE,
              ctx: ProbeContext | None = None) -> gate.GateResult:
    """Gate ``refs`` until every one is Current (or one is Failed, or ``timeout`` runs out),
    recorded as the step ``label`` of ``stage`` with its observations and diagnostics, and
    with progress like any gate."""
    call = call_for(refs)
    return await recorded_gate.run(session.store, session.run_id, stage, label,
                                   [call] if call is not None else [], ctx or session.ctx,
                                   timeout, session.on_observation, on_wait=session.on_wait,
                                   place=place)
