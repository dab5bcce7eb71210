"""Stage I — implementation: phase by phase, snapshot, apply, gate; on failure capture
the state and roll back by the phase's policy. Never proceeds past a failing gate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from phasegate.errors import ActionError, PhasegateError
from phasegate.kube import apply, conflicts, manifests, sources
from phasegate.plan.model import Phase
from phasegate.plan.probe_call import ProbeCall
from phasegate.store import records
from phasegate.workflow import changes, helm_phase, ready_gate, recorded_gate, rollback, stopping
from phasegate.workflow.session import Session

APPLIED = rollback.APPLIED
CONFLICTS = "conflicts: "  # + phase name: the fields another manager owns, as JSON


@dataclass(frozen=True)
class PhaseOutcome:
    index: int
    name: str
    status: str  # passed, failed, rolled back, error
    detail: str


async def run_phases(session: Session, skip: set[str] | None = None) -> list[PhaseOutcome]:
    """Run the plan's phases in order, skipping those already passed (resume)."""
    outcomes = []
    for index, phase in enumerate(session.plan.phases, start=1):
        if skip and phase.name in skip:
            session.say(f"I · phase {index} {phase.name}: passed before, not re-applied")
            outcomes.append(PhaseOutcome(index, phase.name, "passed", "passed earlier"))
            continue
        outcome = await run_phase(session, index, phase)
        outcomes.append(outcome)
        if outcome.status != "passed":
            break
    return outcomes


@dataclass(frozen=True)
class Applied:
    """A phase applied; its gate is next."""

    started: datetime
    summary: str
    calls: list[ProbeCall]


@dataclass(frozen=True)
class Failed:
    """A phase that did not pass; ``rollback``: whether anything may need undoing."""

    reason: str
    rollback: bool = True


async def run_phase(session: Session, index: int, phase: Phase) -> PhaseOutcome:
    applied = await apply_phase(session, index, phase)
    if isinstance(applied, Failed):
        return await settle(session, index, phase, applied)
    gated = await gate_phase(session, index, phase, applied)
    return gated if isinstance(gated, PhaseOutcome) else await settle(session, index, phase,
                                                                      gated)


async def apply_phase(session: Session, index: int, phase: Phase) -> Applied | Failed:
    """Apply the phase (its journal recorded), or why it was refused."""
    if phase.helm is not None:
        return await _apply_helm_phase(session, index, phase)
    store, run_id = session.store, session.run_id
    label = f"phase {index}: {phase.name}"
    session.say(f"I · {label}: applying {sources.describe(phase.apply) or 'nothing'}")
    step = store.start_step(run_id, "I", f"{label} · apply",
                            place=_place(records.APPLY, index, phase))
    started = datetime.now(UTC)
    try:
        loaded = manifests.load(phase.apply, session.plan.base_dir, session.plan.inputs)
        store.record_fingerprints(step, changes.fingerprint(loaded, session.plan.base_dir))
        client = session.client()
        results: list[apply.Applied] = []
        try:
            await apply.apply_all(client, loaded, session.namespace, into=results,
                                  force=phase.force)
        except conflicts.ApplyConflict as exc:
            store.add_artifact(run_id, CONFLICTS + phase.name, json.dumps(
                [{"object": exc.ref, **c.to_dict()} for c in exc.conflicts]), "application/json")
            raise
        finally:
            # recorded even when an object is refused: what was applied must be rolled back
            journal = _journal(results)
            store.record_journal(step, journal)
            store.add_artifact(run_id, APPLIED + phase.name, json.dumps(_shown(journal)),
                               "application/json")
    except ActionError as exc:
        store.finish_step(step, "failed", str(exc))
        session.say(f"I · {label}: refused — {exc}")
        return Failed(f"apply refused: {exc}")
    except BaseException as exc:
        store.finish_step(step, stopping.status_of(exc), str(exc))
        raise
    summary = ", ".join(f"{r.ref} {r.action}" + (
        f" (force: took {conflicts.describe(r.taken)})" if r.taken else "") for r in results)
    store.finish_step(step, "passed", summary)
    return Applied(started, summary, ready_gate.phase_gate(phase, journal))


async def _apply_helm_phase(session: Session, index: int, phase: Phase) -> Applied | Failed:
    started = datetime.now(UTC)
    done = await helm_phase.install(session, index, phase)
    if isinstance(done, helm_phase.Refused):
        return Failed(done.reason, done.rollback)
    return Applied(started, done.summary, done.calls)


async def gate_phase(session: Session, index: int, phase: Phase,
                     applied: Applied) -> PhaseOutcome | Failed:
    """The phase's gate over what it applied: passed, or why not."""
    label = f"phase {index}: {phase.name}"
    ctx = session.with_extras(phase_started=applied.started)
    result = await recorded_gate.run(session.store, session.run_id, "I", f"{label} · gate",
                                     applied.calls, ctx, phase.timeout, session.on_observation,
                                     on_wait=session.on_wait,
                                     place=_place(records.GATE, index, phase))
    if result.passed:
        session.say(f"I · {label}: gate passed in {result.duration:.1f} s")
        return PhaseOutcome(index, phase.name, "passed", applied.summary)
    failed = "; ".join(f"{o.name}: {o.observed}" for o in result.finals if not o.passed)
    session.say(f"I · {label}: gate {result.words} — {failed}")
    return Failed(f"gate {result.words}: {failed}")


async def settle(session: Session, index: int, phase: Phase, failed: Failed) -> PhaseOutcome:
    """A phase that did not pass: rolled back by its policy when there is anything to undo."""
    if not failed.rollback:
        return PhaseOutcome(index, phase.name, "failed", failed.reason)
    return await _fail(session, index, phase, failed.reason)


async def _fail(session: Session, index: int, phase: Phase, reason: str) -> PhaseOutcome:
    if phase.rollback == "none":
        return PhaseOutcome(index, phase.name, "failed", f"{reason}; rollback: none")
    step = session.store.start_step(session.run_id, "I", f"phase {index}: {phase.name} · rollback",
                                    place=_place(records.ROLLBACK, index, phase))
    try:
        with stopping.closed_on_stop(session.store, step):
            done = await rollback.roll_back(session, phase)
    except PhasegateError as exc:
        session.store.finish_step(step, "failed", str(exc))
        return PhaseOutcome(index, phase.name, "failed", f"{reason}; rollback failed: {exc}")
    session.store.finish_step(step, "passed", done)
    session.say(f"I · phase {index} {phase.name}: rolled back — {done}")
    return PhaseOutcome(index, phase.name, "rolled back", f"{reason}; rolled back: {done}")


def _place(kind: str, index: int, phase: Phase) -> records.StepPlace:
    return records.StepPlace(kind, phase=phase.name, phase_index=index)


def _shown(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal as the evidence shows it: what was done to which object, without the
    snapshots of the objects before (those stay on the step, for rollback)."""
    return [{k: v for k, v in entry.items() if k != "previous"} for entry in journal]


def _journal(results: list[apply.Applied]) -> list[dict[str, Any]]:
    return [
        {"ref": r.ref, "action": r.action, "source": r.source, "previous": r.previous,
         "apiVersion": r.live.get("apiVersion"), "kind": r.live.get("kind"),
         "name": r.live.get("metadata", {}).get("name"),
         "namespace": r.live.get("metadata", {}).get("namespace"), "warnings": list(r.warnings),
         "uid": r.live.get("metadata", {}).get("uid"),
         **({"forced": [c.to_dict() for c in r.taken]} if r.taken else {})}
        for r in results
    ]
