"""The gated workflow end to end: R → 0 → P → I → V, each ending in a gate; a failing
gate stops the run and says why. The store is the journal an interrupted or failed run
resumes from (``workflow.resuming``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegate.engine import progress as waits
from phasegate.errors import ActionError, PlanError
from phasegate.plan.model import Plan
from phasegate.store import records as store_records
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import (
    check,
    phases,
    preview,
    recorded_gate,
    records,
    review,
    stopping,
    target,
    tracers,
)
from phasegate.workflow import validation as stage_v
from phasegate.workflow.session import Progress, Session

STAGES = ("R", "0", "P", "I", "V")
Confirm = Callable[[preview.Preview], bool]


@dataclass(frozen=True)
class RunOptions:
    stages: tuple[str, ...] = STAGES
    approve: str | None = None
    yes: bool = False
    context: str | None = None
    kubeconfig: str | None = None
    reports_dir: Path = Path(".phasegate/reports")
    preview_only: bool = False  # `phasegate plan`: compute and show, approve nothing
    journal_run: str | None = None  # `phasegate validate`: the run whose changes to rehearse
    level: str = "runtime-smoke"  # contract: offline checks only, no cluster


@dataclass
class RunResult:
    run_id: str
    status: str = "passed"  # passed, failed, refused
    stopped_at: str | None = None
    detail: str = ""
    files: dict[str, str] = field(default_factory=dict)
    phases: list[phases.PhaseOutcome] = field(default_factory=list)
    tracers: list[tracers.TracerOutcome] = field(default_factory=list)
    plan_hash: str | None = None
    preview: dict[str, Any] | None = None


async def start(plan: Plan, store: EvidenceStore, command: str, options: RunOptions,
                progress: Progress | None = None, confirm: Confirm | None = None, *,
                on_wait: waits.Listener | None = None) -> RunResult:
    check.manifests_valid(plan)  # bad input is exit 2 before anything is recorded
    calls = check.assumption_calls(plan) if "R" in options.stages else []
    needs_kube = bool(plan.phases or plan.tracers) and bool(set(options.stages) - {"R"})
    declared = plan.target
    if options.level == "contract":
        calls = check.contract_calls(plan)
        declared = declared.model_copy(update={"context": None})
    try:
        resolved = await target.resolve(declared, plan.base_dir, calls,
                                        context=options.context, kubeconfig=options.kubeconfig,
                                        inputs=plan.inputs, needs_kube=needs_kube)
        meta = {"cluster": resolved.identity, "inputs": plan.inputs, "stages": options.stages,
                "context": options.context, "kubeconfig": options.kubeconfig,
                "reports_dir": str(options.reports_dir)}
        run_id = store.start_run(command, plan_name=plan.metadata.name,
                                 plan_path=str(plan.source) if plan.source else None,
                                 plan_hash=plan.content_hash, meta=meta)
        session = Session(store, run_id, plan, resolved.context, progress=progress,
                          on_wait=on_wait)
        return await run_stages(session, options, confirm, done=set(), passed_phases=set())
    finally:
        await target.release()


async def run_stages(session: Session, options: RunOptions, confirm: Confirm | None,
                     done: set[str], passed_phases: set[str]) -> RunResult:
    """The stages of ``options`` not in ``done``, in order, recorded; a new run's and a
    resumed run's."""
    result = RunResult(session.run_id)
    store = session.store
    try:
        for stage in options.stages:
            if stage in done:
                continue
            stopped = await _stage(session, stage, options, confirm, result, passed_phases)
            if stopped:
                break
    except BaseException as exc:
        store.finish_run(session.run_id, stopping.status_of(exc),
                         stopping.summary_of(exc, session.run_id))
        raise
    summary = result.detail or "every gate passed"
    store.finish_run(session.run_id, result.status, summary)
    result.files.update(_write_reports(session, options.reports_dir))
    return result


async def _stage(session: Session, stage: str, options: RunOptions, confirm: Confirm | None,
                 result: RunResult, passed_phases: set[str]) -> bool:
    """Run one stage; True when the run stops here."""
    if stage == "R":
        calls = (check.contract_calls(session.plan) if options.level == "contract"
                 else check.assumption_calls(session.plan))
        session.say(f"R · reality check: {len(calls)} assumptions")
        gate = await recorded_gate.run(session.store, session.run_id, "R", "reality check",
                                       calls, session.ctx, 0, session.on_observation,
                                       on_wait=session.on_wait)
        if not gate.passed:
            failed = "; ".join(f"{o.name}: {o.observed}" for o in gate.finals if not o.passed)
            return _stop(result, "R", f"reality check failed — {failed}")
        return False
    if stage == "0":
        result.tracers = await tracers.run_tracers(session)
        failed_tracers = [t for t in result.tracers if not t.passed]
        for outcome in result.tracers:
            session.say(f"0 · tracer {outcome.name}: {'passed' if outcome.passed else 'FAILED'}"
                        f" — {outcome.evidence}")
        if failed_tracers:
            return _stop(result, "0", "; ".join(f"tracer {t.name}: {t.evidence}"
                                                for t in failed_tracers))
        return False
    if stage == "P":
        return await _approve(session, options, confirm, result)
    if stage == "I":
        result.phases = await phases.run_phases(session, skip=passed_phases)
        last = result.phases[-1] if result.phases else None
        if last is not None and last.status != "passed":
            return _stop(result, f"phase {last.index}",
                         f"failed at phase {last.index} ({last.name}): {last.detail}. Options: "
                         f"fix and `phasegate resume {session.run_id}`; roll back further; or "
                         "return to planning")
        return False
    validated = await stage_v.validate(session, options.journal_run)
    if (session.plan.phases and options.stages != ("V",)) or options.journal_run:
        record = await records.deployment_record(session, _reports(options.reports_dir),
                                                 options.journal_run)
        result.files["deployment_record"] = str(record)
    if not validated.passed:
        return _stop(result, "V", "validation failed: " + (
            "gates no longer pass" if not validated.gates_passed else validated.rehearsal))
    return False


async def _approve(session: Session, options: RunOptions, confirm: Confirm | None,
                   result: RunResult) -> bool:
    step = session.store.start_step(session.run_id, "P", "plan and approval",
                                    place=store_records.StepPlace(store_records.PLAN))
    with stopping.closed_on_stop(session.store, step):
        return await _approve_step(session, options, confirm, result, step)


async def _approve_step(session: Session, options: RunOptions, confirm: Confirm | None,
                        result: RunResult, step: int) -> bool:
    try:
        computed = await preview.compute(session)
    except ActionError as exc:
        session.store.finish_step(step, "failed", str(exc))
        return _stop(result, "P", f"the server refuses the plan's manifests: {exc}")
    except PlanError as exc:  # a manifest no one can apply here: bad input, exit 2
        session.store.finish_step(step, "refused", str(exc))
        _stop(result, "P", str(exc))
        result.status = "refused"
        return True
    result.plan_hash = computed.hash
    result.preview = computed.to_dict()
    review.record(session.store, session.run_id, computed.hash, session.plan,
                  computed.rendered, computed.reviewed)
    session.store.add_artifact(session.run_id, "plan preview", computed.markdown(),
                               "text/markdown")
    session.say(f"P · plan hash {computed.hash}")
    result.files["preview_markdown"] = computed.markdown()
    if options.preview_only:
        session.store.finish_step(step, "passed", f"computed, hash {computed.hash}")
        return False
    if options.approve is not None:
        approved = options.approve == computed.hash
        how = "--approve hash" if approved else (
            f"refused: approved hash {options.approve} but the plan now hashes to "
            f"{computed.hash} (something changed since it was computed: "
            f"{review.what_changed(session.store, options.approve, computed.hash)})")
    elif options.yes:
        approved, how = True, "approved with --yes (whatever was computed)"
    elif confirm is not None:
        approved = confirm(computed)
        how = "approved interactively" if approved else "declined interactively"
    else:
        approved, how = False, ("refused: approval needed — pass --approve "
                                f"{computed.hash} (from `phasegate plan`) or --yes")
    session.store.finish_step(step, "passed" if approved else "refused", how)
    if not approved:
        result.status = "refused"
        result.stopped_at = "P"
        result.detail = how
        return True
    return False


def _stop(result: RunResult, where: str, detail: str) -> bool:
    result.status = "failed"
    result.stopped_at = where
    result.detail = detail
    return True


def _reports(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _write_reports(session: Session, directory: Path) -> dict[str, str]:
    """The evidence report and the retrospective, from one read of the run."""
    from phasegate import reports
    from phasegate.reports import retro

    bundle = session.store.load(session.run_id)
    name = session.plan.metadata.name
    path = _reports(directory) / f"{name}-evidence.md"
    path.write_text(reports.render(bundle, "md"), encoding="utf-8")
    return {"evidence": str(path), "retrospective": str(retro.write(bundle, directory, name))}
