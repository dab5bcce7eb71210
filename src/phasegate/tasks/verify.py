"""Verifying a task: every criterion's probe asked of reality, every answer recorded.

A verification is a run in the evidence store (command ``tasks verify``, plan name = the
task id) with one step per criterion; its meta carries each criterion's key, text and
result, so later commands (``complete``, ``show``, the session report) read what was proven
without re-running anything. An attestation is a run of its own (``tasks attest``): counted
apart, never as verified, and only for criteria written ``verify: attest``.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phasegate.engine import progress
from phasegate.errors import PlanError
from phasegate.observation import Observation
from phasegate.plan.model import Target
from phasegate.plan.probe_call import ProbeCall
from phasegate.reports import clock
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.store.records import RunRecord
from phasegate.tasks import blocked, files, model, queue
from phasegate.tasks.model import Criterion, Task

VERIFY = "tasks verify"
ATTEST = "tasks attest"
STAGE = "task"
CRITERION_STEP = records.StepPlace(records.CRITERION)
BLOCKED = model.BLOCKED
# what 'command: any' accepts: commands that ask the target (rendering a plan or running its
# tracers alone proves nothing of the plan's state)
PLAN_COMMANDS = ("run", "apply", "check", "validate")


@dataclass(frozen=True)
class Result:
    """What is known of one criterion: from this verification, or the latest recorded."""

    criterion: Criterion
    status: str  # passed, failed, error, blocked, attested, needs attestation, never verified
    observed: str = ""
    expected: str = ""
    at: datetime | None = None
    run_id: str | None = None
    by: str = ""  # who attested
    blocked_by: tuple[str, ...] = ()  # open tasks a blocked criterion waits for

    @property
    def verified(self) -> bool:
        return self.status == "passed"

    @property
    def failing(self) -> bool:
        return self.status in ("failed", "error")

    def to_dict(self) -> dict[str, Any]:
        c = self.criterion
        return {"n": c.number, "key": c.key, "text": c.text, "kind": c.kind,
                "status": self.status, "observed": self.observed, "expected": self.expected,
                "at": self.at.isoformat() if self.at else None, "run_id": self.run_id,
                **({"by": self.by} if self.by else {}),
                **({"blocked_by": list(self.blocked_by)} if self.blocked_by else {})}


@dataclass(frozen=True)
class Tally:
    total: int
    verified: int
    attested: int
    failing: int
    unattested: int  # 'verify: attest' criteria without an attestation
    unverified: int  # probe criteria never verified
    blocked: int = 0  # not verified, waiting for another task (not failing)
    blockers: tuple[str, ...] = ()  # the tasks those wait for

    @property
    def pending(self) -> int:
        return self.unattested + self.unverified

    @property
    def percent(self) -> int:
        return round(100 * self.verified / self.total) if self.total else 0

    def sentence(self) -> str:
        text = f"{self.verified} of {self.total} criteria verified ({self.percent}%)"
        waiting = f"blocked by {', '.join(self.blockers)}"
        extras = [f"{n} {word}" for n, word in ((self.blocked, waiting),
                                                (self.attested, "attested"),
                                                (self.failing, "failing"),
                                                (self.unattested, "awaiting attestation"),
                                                (self.unverified, "never verified")) if n]
        return text + (", " + ", ".join(extras) if extras else "")

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "verified": self.verified, "attested": self.attested,
                "failing": self.failing, "awaiting_attestation": self.unattested,
                "never_verified": self.unverified, "blocked": self.blocked,
                "blocked_by": list(self.blockers), "percent": self.percent}


def tally(results: Sequence[Result]) -> Tally:
    return Tally(
        total=len(results),
        verified=sum(1 for r in results if r.verified),
        attested=sum(1 for r in results if r.status == "attested"),
        failing=sum(1 for r in results if r.failing),
        unattested=sum(1 for r in results if r.status == "needs attestation"),
        unverified=sum(1 for r in results if r.status == "never verified"),
        blocked=sum(1 for r in results if r.status == BLOCKED),
        blockers=tuple(dict.fromkeys(b for r in results if r.status == BLOCKED
                                     for b in r.blocked_by)),
    )


@dataclass(frozen=True)
class Verification:
    run_id: str
    task: Task
    results: tuple[Result, ...]
    tally: Tally

    @property
    def passed(self) -> bool:
        return self.tally.failing == 0


def base_dir(root: Path) -> Path:
    """Relative paths in criteria resolve against the tasks directory's parent (the project)."""
    return root.resolve().parent


async def verify(
    task: Task,
    root: Path,
    store: EvidenceStore,
    inputs: dict[str, Any] | None = None,
    timeout: float = 0.0,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    on_observation: Callable[[Observation], None] | None = None,
    on_wait: progress.Listener | None = None,
) -> Verification:
    """Ask every criterion's probe (concurrently), record it all, log it in the task file."""
    from phasegate.workflow import recorded_gate, stopping, target

    checks = build_checks(task, inputs or {})
    calls = [c for c in checks.values() if isinstance(c, ProbeCall)]
    waiting = _open_blockers(task, root)
    try:
        resolved = await target.resolve(task.target or Target(), base_dir(root), calls,
                                        context=context, kubeconfig=kubeconfig,
                                        inputs=inputs or {})
        meta: dict[str, Any] = {"task": task.id, "title": task.title,
                                "file": files.relative(task.path, root), "folder": task.folder}
        if resolved.identity:
            meta["cluster"] = resolved.identity
        run_id = store.start_run(VERIFY, plan_name=task.id, plan_path=str(task.path), meta=meta)
        known = states(store, task)
        try:
            async def ask(criterion: Criterion, call: ProbeCall) -> Result:
                blockers = waiting.get(criterion.number, ())
                if blockers:
                    seen = await blocked.ask(store, run_id, STAGE, step_name(criterion), call,
                                             resolved.context, blockers, on_observation)
                    return Result(criterion, "passed" if seen.passed else BLOCKED,
                                  seen.observed, seen.expected, seen.finished, run_id,
                                  blocked_by=() if seen.passed else blockers)
                gate = await recorded_gate.run(store, run_id, STAGE, step_name(criterion),
                                               [call], resolved.context, timeout, on_observation,
                                               on_wait=on_wait, place=CRITERION_STEP)
                final = gate.finals[0]
                status = "passed" if final.passed else ("error" if final.error else "failed")
                return Result(criterion, status, final.observed, final.expected,
                              final.finished, run_id)

            asked = await asyncio.gather(*(
                ask(c, check) for c in task.criteria
                if isinstance(check := checks.get(c.number), ProbeCall)))
            by_number = {r.criterion.number: r for r in asked}
            for criterion in task.criteria:
                check = checks.get(criterion.number)
                if isinstance(check, model.PlanRunParams):
                    by_number[criterion.number] = _plan_run(store, run_id, criterion, check,
                                                            base_dir(root),
                                                            waiting.get(criterion.number, ()))
                elif criterion.kind == model.ATTEST:
                    by_number[criterion.number] = _attestation(store, run_id, criterion,
                                                               known.get(criterion.key),
                                                               waiting.get(criterion.number, ()))
        except BaseException as exc:  # Ctrl-C is an interruption; anything else an error
            status = stopping.status_of(exc)
            # a verification is not resumed, it is run again: no "resume" hint here
            store.finish_run(run_id, status, "interrupted" if status == "interrupted" else
                             stopping.summary_of(exc, run_id))
            raise
    finally:
        await target.release()
    results = tuple(by_number[c.number] for c in task.criteria)
    counted = tally(results)
    failing = [r for r in results if r.failing]
    summary = counted.sentence()
    store.update_run_meta(run_id, {**meta, "criteria": [r.to_dict() for r in results],
                                   "tally": counted.to_dict()})
    store.finish_run(run_id, "failed" if failing else "passed", summary)
    entry = f"verify: {summary}"
    if failing:
        entry += "; failing: " + "; ".join(f"#{r.criterion.number} {r.observed}"
                                           for r in failing)
    files.log_entry(task.path, f"{entry} (run {run_id})")
    return Verification(run_id, task, results, counted)


def _open_blockers(task: Task, root: Path) -> dict[int, tuple[str, ...]]:
    """For each criterion waiting on tasks, those of them not completed yet. Reading the
    whole directory also refuses a blocker that names no task, at its place."""
    if not any(c.blocked_by for c in task.criteria):
        return {}
    _, built = queue.load(root)
    return {c.number: built.open_blockers(c.blocked_by) for c in task.criteria
            if c.blocked_by}


def build_checks(task: Task, inputs: dict[str, Any]) -> dict[int, ProbeCall | model.PlanRunParams]:
    """Each non-attested criterion's check, substituted; errors located in the task file."""
    if not any(c.verify for c in task.criteria):
        return {}
    tree = files.front_tree(task.path)
    checks: dict[int, ProbeCall | model.PlanRunParams] = {}
    for criterion in task.criteria:
        if criterion.verify is None:
            continue
        where = ("criteria", criterion.number - 1, "verify")
        checks[criterion.number] = files.check_verify(criterion.verify, inputs, tree, where,
                                                      str(task.path))
    return checks


def step_name(criterion: Criterion) -> str:
    name = f"criterion {criterion.number}: {criterion.text}"
    return name if len(name) <= 250 else name[:249] + "…"


def _plan_run(store: EvidenceStore, run_id: str, criterion: Criterion,
              params: model.PlanRunParams, base: Path, blockers: tuple[str, ...]) -> Result:
    """"Plan run passed": the latest finished run of the plan, from the store."""
    step = store.start_step(run_id, STAGE, step_name(criterion), place=CRITERION_STEP)
    started = clock.now()
    commands = PLAN_COMMANDS if params.command == "any" else (params.command,)
    runs = [r for r in store.find_runs(commands=commands, plan_name=params.plan, limit=50)
            if r.finished is not None]
    if params.file is not None:
        wanted = (base / params.file).resolve()
        runs = [r for r in runs if r.plan_path and Path(r.plan_path).resolve() == wanted]
    expected = f"the latest {'' if params.command == 'any' else params.command + ' '}run of " \
               f"plan {params.plan}{f' ({params.file})' if params.file else ''} passed" + (
                   f", within {clock.span(params.within)}" if params.within else "")
    sources = sorted({r.plan_path or "?" for r in runs})
    data: dict[str, Any] = {}
    if not runs:
        by = "" if params.command == "any" else f" by phasegate {params.command}"
        passed, observed = False, (f"no finished run of plan {params.plan}"
                                   f"{f' from {params.file}' if params.file else ''}{by} in "
                                   "this store")
    elif len(sources) > 1:
        passed = False
        observed = (f"{len(sources)} plan files are named {params.plan} "
                    f"({', '.join(sources)}): say which with plan_run.file")
        data = {"plan_files": sources}
    else:
        latest = runs[0]
        assert latest.finished is not None
        age = (started - latest.finished).total_seconds()
        data = {"run_id": latest.id, "command": latest.command, "status": latest.status,
                "finished": latest.finished.isoformat(), "plan_path": latest.plan_path,
                "plan_hash": latest.plan_hash}
        if latest.status != "passed":
            passed = False
            observed = f"run {latest.id} ({latest.command}) {latest.status}: {latest.summary}"
        elif params.within is not None and age > params.within:
            passed = False
            observed = (f"run {latest.id} ({latest.command}) passed {clock.ago(latest.finished)}"
                        f", longer ago than {clock.span(params.within)}")
        else:
            passed = True
            observed = f"run {latest.id} ({latest.command}) passed {clock.ago(latest.finished)}"
    observation = Observation(
        probe=model.PLAN_RUN, name=f"plan run {params.plan}",
        params=params.model_dump(mode="json", exclude_none=True), passed=passed,
        expected=expected, observed=observed, detail="", started=started,
        finished=clock.now(), attempt=1, fail_fast=True, data=data)
    store.record(run_id, step, observation)
    if not passed and blockers:
        store.finish_step(step, BLOCKED, blocked.detail(blockers, observed))
        return Result(criterion, BLOCKED, observed, expected, observation.finished, run_id,
                      blocked_by=blockers)
    store.finish_step(step, "passed" if passed else "failed",
                      "1/1 passed" if passed else "0/1 passed")
    return Result(criterion, "passed" if passed else "failed", observed, expected,
                  observation.finished, run_id)


def _attestation(store: EvidenceStore, run_id: str, criterion: Criterion,
                 known: Result | None, blockers: tuple[str, ...]) -> Result:
    step = store.start_step(run_id, STAGE, step_name(criterion), place=CRITERION_STEP)
    if known is not None and known.status == "attested":
        store.finish_step(step, "attested", f"attested by {known.by} {clock.stamp(known.at)}: "
                                            f"{known.observed} (run {known.run_id})")
        return known
    if blockers:
        store.finish_step(step, BLOCKED, blocked.detail(blockers, "no attestation recorded"))
        return Result(criterion, BLOCKED, "no attestation recorded", "an attestation",
                      blocked_by=blockers)
    store.finish_step(step, "needs attestation", "no probe can check this; attest it with "
                                                 "phasegate tasks attest")
    return Result(criterion, "needs attestation", "no attestation recorded", "an attestation")


def attest(task: Task, number: int, reason: str, store: EvidenceStore,
           by: str | None = None) -> tuple[str, Result]:
    """Record that a person vouches for criterion ``number`` (1-based), and why."""
    if not 1 <= number <= len(task.criteria):
        raise PlanError(f"task {task.id} has {len(task.criteria)} criteria; there is no "
                        f"criterion {number}", file=str(task.path), path="criteria")
    criterion = task.criteria[number - 1]
    if criterion.kind != model.ATTEST:
        raise PlanError(f"criterion {number} ({criterion.text!r}) is checked by the "
                        f"{criterion.kind} probe: run `phasegate tasks verify {task.id}`; "
                        "attestation is only for criteria written 'verify: attest'",
                        file=str(task.path), path=f"criteria[{number - 1}].verify")
    reason = " ".join(reason.split())
    if not reason:
        raise PlanError("--reason is empty: say what was checked, by whom, and where")
    who = by or _user()
    meta = {"task": task.id, "criterion": number, "key": criterion.key, "text": criterion.text,
            "reason": reason, "by": who}
    run_id = store.start_run(ATTEST, plan_name=task.id, plan_path=str(task.path), meta=meta)
    step = store.start_step(run_id, STAGE, step_name(criterion), place=CRITERION_STEP)
    store.finish_step(step, "attested", f"attested by {who}: {reason}")
    store.finish_run(run_id, "passed", f"criterion {number} attested by {who}: {reason}")
    files.log_entry(task.path, f"attest: criterion {number} attested by {who}: {reason} "
                               f"(run {run_id})")
    return run_id, Result(criterion, "attested", reason, "an attestation", clock.now(), run_id,
                          who)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def states(store: EvidenceStore, task: Task,
           runs: Sequence[RunRecord] | None = None) -> dict[str, Result]:
    """The latest recorded result of each criterion (by key), newest run first."""
    if runs is None:
        runs = store.find_runs(commands=(VERIFY, ATTEST), plan_name=task.id)
    by_key = {c.key: c for c in task.criteria}
    found: dict[str, Result] = {}
    for run in runs:  # newest first
        if run.status == "running":
            continue
        at = run.finished or run.started
        if run.command == ATTEST:
            key = run.meta.get("key")
            if key in by_key and key not in found:
                found[key] = Result(by_key[key], "attested", str(run.meta.get("reason", "")),
                                    "an attestation", at, run.id, str(run.meta.get("by", "")))
            continue
        for item in run.meta.get("criteria") or []:
            key = item.get("key")
            if key not in by_key or key in found or item.get("status") not in (
                    "passed", "failed", "error", BLOCKED):
                continue
            when = datetime.fromisoformat(item["at"]) if item.get("at") else at
            found[key] = Result(by_key[key], item["status"], item.get("observed", ""),
                                item.get("expected", ""), when.astimezone(UTC), run.id,
                                blocked_by=tuple(item.get("blocked_by") or ()))
    return found


def current(task: Task, known: dict[str, Result]) -> tuple[Result, ...]:
    """Each criterion's latest result, or what it still needs."""
    results = []
    for criterion in task.criteria:
        result = known.get(criterion.key)
        if result is None:
            status = "needs attestation" if criterion.kind == model.ATTEST else "never verified"
            result = Result(criterion, status)
        results.append(result)
    return tuple(results)


def all_states(store: EvidenceStore, tasks: Sequence[Task]) -> dict[str, tuple[Result, ...]]:
    """Every task's criteria as the store knows them (one query for all tasks)."""
    runs = store.find_runs(commands=(VERIFY, ATTEST))
    by_task: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_task.setdefault(run.plan_name or "", []).append(run)
    return {task.id: current(task, states(store, task, by_task.get(task.id, [])))
            for task in tasks}
