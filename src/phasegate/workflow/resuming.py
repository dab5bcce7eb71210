"""Resuming a run: the store is the journal. A failed or interrupted run continues in
the same run record from the first phase that has not passed, never re-applying a passed
one — unless its manifests changed since, which is never passed over in silence — and
never approving by itself. Steps a crash cut short are closed as abandoned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasegate.engine import progress as waits
from phasegate.errors import PlanError
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import changes, check, pipeline, stopping, target
from phasegate.workflow.session import Progress, Session


async def resume(store: EvidenceStore, ref: str, progress: Progress | None = None, *,
                 approve: str | None = None, yes: bool = False,
                 confirm: pipeline.Confirm | None = None,
                 reapply_changed: bool = False,
                 on_wait: waits.Listener | None = None) -> pipeline.RunResult:
    """Continue a run from where it stopped; refuse if the plan changed since it started.

    A run that stopped before its plan was approved needs approval again (``approve``,
    ``yes`` or ``confirm``): resuming never approves by itself. A passed phase whose
    manifests changed since it was applied is never skipped in silence: the resume is
    refused, naming it and its files, unless ``reapply_changed`` re-applies and re-gates it."""
    from phasegate.plan.loader import load_plan

    bundle = store.load(ref)
    run = bundle.run
    if run.status == "passed":
        raise PlanError(f"run {run.id} already passed; nothing to resume")
    meta = run.meta
    if not run.plan_path or "stages" not in meta:
        again = f"phasegate {run.command} {run.plan_path or ''}".strip()
        raise PlanError(f"run {run.id} ({run.command}) cannot be resumed: only runs of "
                        f"run, apply, tracer and validate can; ask again with `{again}`")
    plan = load_plan(run.plan_path, meta.get("inputs") or {})
    if plan.content_hash != run.plan_hash:
        raise PlanError(f"the plan changed since run {run.id} started (hash "
                        f"{(run.plan_hash or '')[:12]} → {plan.content_hash[:12]}); start a new "
                        "run instead of resuming", file=run.plan_path)
    check.manifests_valid(plan)
    done = {step.stage for step in bundle.steps if step.stage in ("R", "0", "P")
            and _stage_passed(bundle, step.stage)}
    passed_phases = {step.phase for step in bundle.steps if step.stage == "I"
                     and step.kind == records.GATE and step.status == "passed"
                     and step.phase is not None}
    changed = changes.changed_since(plan, bundle.steps, passed_phases)
    if changed and not reapply_changed:
        raise PlanError(_changed_refusal(run.id, run.plan_path, changed), file=run.plan_path)
    passed_phases -= {c.phase for c in changed}
    options = pipeline.RunOptions(
        stages=tuple(meta.get("stages") or pipeline.STAGES), yes=yes, approve=approve,
        context=meta.get("context"), kubeconfig=meta.get("kubeconfig"),
        reports_dir=Path(meta.get("reports_dir") or ".phasegate/reports"))
    try:
        resolved = await target.resolve(plan.target, plan.base_dir, [],
                                        context=options.context, kubeconfig=options.kubeconfig,
                                        inputs=plan.inputs, needs_kube=bool(plan.phases))
        cut_short = stopping.abandon_cut_short(store, run.id)
        store.reopen_run(run.id)
        step = store.start_step(run.id, "resume", "resumed",
                                place=records.StepPlace(records.RESUME))
        detail = (f"skipping stages {sorted(done)} and passed phases {sorted(passed_phases)}"
                  + "".join(f"; re-applying changed {c.describe()}" for c in changed)
                  + (f"; closed as abandoned (cut short): {', '.join(cut_short)}"
                     if cut_short else ""))
        store.finish_step(step, "passed", detail)
        session = Session(store, run.id, plan, resolved.context, progress=progress,
                          on_wait=on_wait)
        for c in changed:
            session.say(f"resume · re-applying changed {c.describe()}")
        return await pipeline.run_stages(session, options, confirm, done, passed_phases)
    finally:
        await target.release()


def _changed_refusal(run_id: str, plan_path: str, changed: list[changes.Changed]) -> str:
    names = "; ".join(c.describe() for c in changed)
    one = len(changed) == 1
    return (f"run {run_id} cannot simply be resumed: {names} — "
            f"{'this phase' if one else 'these phases'} passed before, but "
            f"{'its' if one else 'their'} manifests changed since "
            f"{'it was' if one else 'they were'} applied, and resuming would skip "
            f"{'it' if one else 'them'}. Either `phasegate resume {run_id} --reapply-changed` "
            "(re-apply and re-gate the changed phases, recorded in this run), or start a new "
            f"run: `phasegate run {plan_path}`.")


def _stage_passed(bundle: Any, stage: str) -> bool:
    """Whether the stage's latest attempt of every step passed (a resumed run holds the
    earlier, failed attempts too)."""
    latest = {s.name: s.status for s in bundle.steps if s.stage == stage}
    return bool(latest) and all(status == "passed" for status in latest.values())
