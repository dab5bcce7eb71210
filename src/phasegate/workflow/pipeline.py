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
    verdicts,
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
    try:
        session = await open_run(plan, store, command, options, progress, on_wait=on_wait)
        return await run_stages(session, options, confirm, done=set(), passed_phases=set())
    finally:
        await target.release()


async def open_run(plan: Plan, store: EvidenceStore, command: str, options: RunOptions,
                   progress: Progress | None = None, *, on_wait: waits.Listener | None = None,
                   run_id: str | None = None, meta: dict[str, Any] | None = None) -> Session:
    """The target resolved and verified, then the run recorded (``run_id``: chosen by the
    caller, ``meta``: more to keep with it); bad input is exit 2 before anything is."""
    check.manifests_valid(plan)
    resolved = await resolve(plan, options)
    kept = {"cluster": resolved.identity, "inputs": plan.inputs, "stages": options.stages,
            "context": options.context, "kubeconfig": options.kubeconfig,
            "reports_dir": str(options.reports_dir), **(meta or {})}
    run_id = store.start_run(command, plan_name=plan.metadata.name,
                             plan_path=str(plan.source) if plan.source else None,
                             plan_hash=plan.content_hash, meta=kept, run_id=run_id)
    return Session(store, run_id, plan, resolved.context, progress=progress, on_wait=on_wait)


async def resolve(plan: Plan, options: RunOptions) -> target.Resolved:
    """Where the run goes, verified (context, server, cluster UID)."""
    calls = check.assumption_calls(plan) if "R" in options.stages else []
    needs_kube = bool(plan.phases or plan.tracers) and bool(set(options.stages) - {"R"})
    declared = plan.target
    if options.level == "contract":
        calls = check.contract_calls(plan)
        declared = declared.model_copy(update={"context": None})
    return await target.resolve(declared, plan.base_dir, calls, context=options.context,
                                kubeconfig=options.kubeconfig, inputs=plan.inputs,
                                needs_kube=needs_kube)


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
    result.files.update(finish(session, options, result.status, result.detail))
    return result


def finish(session: Session, options: RunOptions, status: str, detail: str) -> dict[str, str]:
    """The run closed with its status, then its evidence and retrospective written."""
    session.store.finish_run(session.run_id, status, detail or "every gate passed")
    return _write_reports(session, options.reports_dir)


async def _stage(session: Session, stage: str, options: RunOptions, confirm: Confirm | None,
                 result: RunResult, passed_phases: set[str]) -> bool:
    """Run one stage; True when the run stops here."""
    if stage == "R":
        failed = await reality_check(session, options)
        return failed is not None and _stop(result, "R", failed)
    if stage == "0":
        result.tracers = await tracers.run_tracers(session)
        for outcome in result.tracers:
            session.say(verdicts.tracer_line(outcome))
        stopped = verdicts.tracers_stop(result.tracers)
        return stopped is not None and _stop(result, "0", stopped)
    if stage == "P":
        return await _approve(session, options, confirm, result)
    if stage == "I":
        result.phases = await phases.run_phases(session, skip=passed_phases)
        at = verdicts.phases_stop(result.phases, session.run_id)
        return at is not None and _stop(result, *at)
    failed, files = await validation(session, options)
    result.files.update(files)
    return failed is not None and _stop(result, "V", failed)


async def reality_check(session: Session, options: RunOptions) -> str | None:
    """Stage R; why it failed (None: every assumption holds)."""
    calls = (check.contract_calls(session.plan) if options.level == "contract"
             else check.assumption_calls(session.plan))
    session.say(f"R · reality check: {len(calls)} assumptions")
    gate = await recorded_gate.run(session.store, session.run_id, "R", "reality check",
                                   calls, session.ctx, 0, session.on_observation,
                                   on_wait=session.on_wait)
    if gate.passed:
        return None
    failed = "; ".join(f"{o.name}: {o.observed}" for o in gate.finals if not o.passed)
    return f"reality check failed — {failed}"


async def validation(session: Session, options: RunOptions) -> tuple[str | None, dict[str, str]]:
    """Stage V and the deployment record; why it failed (None: passed), and the files."""
    files: dict[str, str] = {}
    validated = await stage_v.validate(session, options.journal_run)
    if (session.plan.phases and options.stages != ("V",)) or options.journal_run:
        record = await records.deployment_record(session, _reports(options.reports_dir),
                                                 options.journal_run)
        files["deployment_record"] = str(record)
    if validated.passed:
        return None, files
    return "validation failed: " + (
        "gates no longer pass" if not validated.gates_passed else validated.rehearsal), files


async def _approve(session: Session, options: RunOptions, confirm: Confirm | None,
                   result: RunResult) -> bool:
    step = session.store.start_step(session.run_id, "P", "plan and approval",
                                    place=store_records.StepPlace(store_records.PLAN))
    with stopping.closed_on_stop(session.store, step):
        computed = await compute_preview(session, options, step)
        if isinstance(computed, Stopped):
            return _stop(result, "P", computed.detail, computed.status)
        result.plan_hash = computed.hash
        result.preview = computed.to_dict()
        result.files["preview_markdown"] = computed.markdown()
        if options.preview_only:
            return False
        approved, how = decide(session, options, computed.hash,
                               None if confirm is None else lambda: confirm(computed), step)
        return not approved and _stop(result, "P", how, "refused")


@dataclass(frozen=True)
class Stopped:
    detail: str
    status: str  # failed, refused


async def compute_preview(session: Session, options: RunOptions,
                          step: int) -> preview.Preview | Stopped:
    """Stage P up to approval: the preview computed, reviewed and kept as evidence (step
    ``step`` finished when the server refuses it, or when nothing is to be approved)."""
    try:
        computed = await preview.compute(session)
    except ActionError as exc:
        session.store.finish_step(step, "failed", str(exc))
        return Stopped(f"the server refuses the plan's manifests: {exc}", "failed")
    except PlanError as exc:  # a manifest no one can apply here: bad input, exit 2
        session.store.finish_step(step, "refused", str(exc))
        return Stopped(str(exc), "refused")
    review.record(session.store, session.run_id, computed.hash, session.plan,
                  computed.rendered, computed.reviewed)
    session.store.add_artifact(session.run_id, "plan preview", computed.markdown(),
                               "text/markdown")
    session.say(f"P · plan hash {computed.hash}")
    if options.preview_only:
        session.store.finish_step(step, "passed", f"computed, hash {computed.hash}")
    return computed


def decide(session: Session, options: RunOptions, computed: str,
           ask: Callable[[], bool] | None, step: int, *,
           given: str | None = None) -> tuple[bool, str]:
    """Whether the plan hashing to ``computed`` is approved, and how; the P step ``step``
    finished saying so. ``given``: how a decision not passed on the command line came (a
    person's, later; "refused…" when not approved)."""
    if options.approve is not None:
        approved = options.approve == computed
        how = "--approve hash" if approved else (
            f"refused: approved hash {options.approve} but the plan now hashes to "
            f"{computed} (something changed since it was computed: "
            f"{review.what_changed(session.store, options.approve, computed)})")
    elif options.yes:
        approved, how = True, "approved with --yes (whatever was computed)"
    elif given is not None:
        approved, how = not given.startswith("refused"), given
    elif ask is not None:
        approved = ask()
        how = "approved interactively" if approved else "declined interactively"
    else:
        approved, how = False, ("refused: approval needed — pass --approve "
                                f"{computed} (from `phasegate plan`) or --yes")
    session.store.finish_step(step, "passed" if approved else "refused", how)
    return approved, how


def _stop(result: RunResult, where: str, detail: str, status: str = "failed") -> bool:
    result.status = status
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
