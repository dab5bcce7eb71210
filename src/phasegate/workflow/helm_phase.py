"""Stage I for a phase with ``helm:``: refuse a release left pending, journal the state to
come back to, ``helm upgrade --install`` (no helm --wait), and hand the gate every object
of the release manifest. The gate and the rollback then run as for any phase."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass

from phasegate.errors import ActionError
from phasegate.kube import helm, helm_storage
from phasegate.plan.model import Phase
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import registry
from phasegate.store import records
from phasegate.workflow import helm_release, stopping
from phasegate.workflow.session import Session

HISTORY = "helm history: "  # + phase name: the release history, as JSON evidence


@dataclass(frozen=True)
class Installed:
    summary: str
    calls: list[ProbeCall]  # readiness of every object of the release, then the phase's gate


@dataclass(frozen=True)
class Refused:
    """helm did not run or failed: ``rollback`` says whether there is anything to undo."""

    reason: str
    rollback: bool


async def install(session: Session, index: int, phase: Phase) -> Installed | Refused:
    assert phase.helm is not None
    store, run_id = session.store, session.run_id
    label = f"phase {index}: {phase.name}"
    release = helm_release.release_of(session.plan, phase.helm, session.namespace)
    shown = helm_release.ref(release)
    session.say(f"I · {label}: helm upgrade --install {shown} ({release.chart.shown})")
    step = store.start_step(run_id, "I", f"{label} · helm upgrade --install",
                            place=records.StepPlace(records.APPLY, phase.name, index))
    try:
        run = helm_release.runner(session)
        # the revisions from helm's storage Secrets: one API list, not a helm process
        history = (await helm_storage.revisions(session.client(), release)
                   if helm_storage.readable() else await run.history(release))
        stuck = helm.pending(history)
        if stuck is not None:  # the whole history (charts, times, descriptions) as evidence
            history = await run.history(release)
            stuck = helm.pending(history) or stuck
        store.add_artifact(run_id, HISTORY + phase.name,
                           json.dumps([r.to_dict() for r in history]), "application/json")
        if stuck is not None:
            store.finish_step(step, "failed", "not run: the release is pending")
            return Refused(_pending(session, index, phase, release, history, stuck), False)
        journal = helm_release.entry(release, history)
        store.record_journal(step, [journal])
        # the gate's probes are loaded while helm works (their first import costs about a
        # second on a busy machine, then the gate would start that much later)
        warm = asyncio.create_task(asyncio.to_thread(registry.all_probes))
        done = await run.upgrade_install(release, phase.timeout)
        await warm
    except ActionError as exc:
        store.finish_step(step, "failed", str(exc))
        session.say(f"I · {label}: refused — {exc}")
        return Refused(f"helm refused: {exc}", True)
    except BaseException as exc:
        store.finish_step(step, stopping.status_of(exc), str(exc))
        raise
    objects = helm_release.objects_of(done.manifest)
    store.record_journal(step, [{**journal, "revision": done.revision,
                                 "objects": helm_release.refs(objects, release.namespace)}])
    store.record_fingerprints(step, {shown: hashlib.sha256(done.manifest.encode()).hexdigest()})
    summary = (f"{shown} revision {done.revision} {done.status}: {len(objects)} objects "
               f"({', '.join(sorted({str(o['kind']) for o in objects}))})")
    store.finish_step(step, "passed", summary)
    calls = helm_release.readiness_calls(objects, release.namespace) + list(phase.gate)
    return Installed(summary, calls)


def _pending(session: Session, index: int, phase: Phase, release: helm.Release,
             history: list[helm.Revision], stuck: helm.Revision) -> str:
    """A failed gate with the history as evidence and the command that unlocks the release:
    phasegate never unlocks it itself (a helm may still be working on it)."""
    command = helm.unlock_command(release, history)
    reason = (f"{helm_release.ref(release)} is {stuck.status} (revision {stuck.revision}, "
              f"since {stuck.updated}): a helm stopped mid-way, or one still runs. Once sure "
              f"none runs, unlock it with: {command}")
    gate = session.store.start_step(session.run_id, "I", f"phase {index}: {phase.name} · gate",
                                    place=records.StepPlace(records.GATE, phase.name, index))
    session.store.finish_step(gate, "failed", reason + " (history: artifact "
                              f"'{HISTORY}{phase.name}')")
    session.say(f"I · phase {index} {phase.name}: gate failed — {reason}")
    return reason
