"""Stage V — validation: every phase gate and the plan's validate probes again, and a
rollback rehearsal (the server must accept, as a dry run, undoing what was applied)."""

from __future__ import annotations

from dataclasses import dataclass

from phasegate.errors import PhasegateError
from phasegate.store import records
from phasegate.workflow import helm_release, ready_gate, recorded_gate, rollback, stopping
from phasegate.workflow.session import Session


@dataclass(frozen=True)
class ValidationOutcome:
    passed: bool
    gates_passed: bool
    rehearsal: str
    rehearsal_passed: bool


async def validate(session: Session, journal_run: str | None = None) -> ValidationOutcome:
    """``journal_run``: the run whose applied objects the rehearsal undoes (default: this)."""
    try:  # a phase without a gate of its own is gated by readiness of what it applied
        applied = rollback.journals(session, journal_run)
    except PhasegateError:
        applied = {}  # the rehearsal below reads them again and says why it cannot
    calls = []
    for phase in session.plan.phases:
        if phase.helm is not None:  # its release's objects, as the release holds them now
            calls += await helm_release.live_readiness(session, phase) + list(phase.gate)
        else:
            calls += ready_gate.phase_gate(phase, applied.get(phase.name, []))
    calls += list(session.plan.validation)
    session.say(f"V · validating {len(calls)} probes")
    result = await recorded_gate.run(session.store, session.run_id, "V", "all gates again",
                                     calls, session.ctx, 60.0, session.on_observation,
                                     on_wait=session.on_wait)
    step = session.store.start_step(session.run_id, "V", "rollback rehearsal",
                                    place=records.StepPlace(records.REHEARSAL))
    try:
        with stopping.closed_on_stop(session.store, step):
            applied = rollback.journals(session, journal_run)
            auto = [phase for phase in session.plan.phases if phase.rollback == "auto"]
            entries = [e for phase in auto if phase.helm is None
                       for e in applied.get(phase.name, [])]
            said = [await helm_release.roll_back(session, phase, applied.get(phase.name, []),
                                                 dry_run=True)
                    for phase in reversed(auto) if phase.helm is not None]
            rehearsal = await rollback.restore(session.client(), entries, dry_run=True)
            rehearsal = "; ".join([*said, rehearsal]) if said else rehearsal
        rehearsed = True
    except PhasegateError as exc:
        rehearsal, rehearsed = f"refused: {exc}", False
    session.store.finish_step(step, "passed" if rehearsed else "failed",
                              f"dry run accepted: {rehearsal}" if rehearsed else rehearsal)
    session.say(f"V · rollback rehearsal: {'accepted' if rehearsed else rehearsal}")
    return ValidationOutcome(result.passed and rehearsed, result.passed, rehearsal, rehearsed)
