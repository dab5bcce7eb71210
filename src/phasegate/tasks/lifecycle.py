"""Moving a task along: start (backlog → active) and complete (→ completed).

Completion is refused unless every criterion's latest recorded result passed within the
freshness window and every ``verify: attest`` criterion was attested; a refusal says, per
criterion, what is missing. Each attempt is recorded in the evidence store, refusals too.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from phasegate.errors import ActionError, PlanError
from phasegate.reports import clock
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.tasks import files, model, queue, verify
from phasegate.tasks.model import Task

START = "tasks start"
COMPLETE = "tasks complete"
DEFAULT_WINDOW = 3600.0


@dataclass(frozen=True)
class Outcome:
    run_id: str
    task: Task
    status: str  # passed, refused, unchanged
    path: Path  # where the task file is now
    reasons: tuple[str, ...] = ()
    tally: verify.Tally | None = None
    commit: str | None = None
    results: tuple[verify.Result, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.status in ("passed", "unchanged")


def start(root: Path, task_id: str, store: EvidenceStore) -> Outcome:
    """Move a task to ``active/``; refused while a blocker is not completed."""
    tasks, built = queue.load(root)
    task = files.find(root, task_id, tasks)
    if task.done:
        raise PlanError(f"task {task.id} is already completed", file=str(task.path))
    entry = built.entry(task.id)
    blockers = entry.blockers if entry else ()
    meta = {"task": task.id, "title": task.title, "from": task.folder}
    if blockers:
        reasons = tuple(f"blocked by {b} ({_where(tasks, b)})" for b in blockers)
        run_id = _record(store, START, task, "refused", meta, reasons)
        return Outcome(run_id, task, "refused", task.path, reasons)
    if task.folder == "active" and task.status == "active":
        run_id = _record(store, START, task, "passed", meta, (), "already active")
        return Outcome(run_id, task, "unchanged", task.path)
    destination = root / "active" / task.path.name
    run_id = _open(store, START, task, {**meta, "to": "active"})
    with _closing(store, run_id, f"started (moved from {task.folder}/)"):
        _move(task, destination, {"status": "active", "started": _today()},
              f"started: moved from {task.folder}/ to active/ (run {run_id})")
    return Outcome(run_id, task, "passed", destination)


def complete(root: Path, task_id: str, store: EvidenceStore, *, window: float = DEFAULT_WINDOW,
             commit: bool = False, now: datetime | None = None) -> Outcome:
    """Move a task to ``completed/`` — only when the evidence says every criterion holds."""
    tasks, built = queue.load(root)
    task = files.find(root, task_id, tasks)
    if task.done:
        raise PlanError(f"task {task.id} is already completed", file=str(task.path))
    git_root = _git_root(root) if commit else None
    moment = now or clock.now()
    results = verify.current(task, verify.states(store, task))
    reasons = list(refusals(task, results, window, moment))
    entry = built.entry(task.id)
    reasons[:0] = [f"blocked by {b} ({_where(tasks, b)})" for b in (entry.blockers if entry
                                                                      else ())]
    counted = verify.tally(results)
    meta = {"task": task.id, "title": task.title, "from": task.folder, "window": window,
            "criteria": [r.to_dict() for r in results], "tally": counted.to_dict()}
    if reasons:
        run_id = _record(store, COMPLETE, task, "refused", meta, tuple(reasons))
        files.log_entry(task.path, f"complete refused: {'; '.join(reasons)} (run {run_id})")
        return Outcome(run_id, task, "refused", task.path, tuple(reasons), counted,
                       results=results)
    destination = root / "completed" / task.path.name
    run_id = _open(store, COMPLETE, task, {**meta, "to": "completed"})
    with _closing(store, run_id, f"completed: {counted.sentence()}"):
        _move(task, destination, {"status": "completed", "completed": _today()},
              f"completed: {counted.sentence()}, each proven within {clock.span(window)} "
              f"(run {run_id})")
    sha = _commit(git_root, task, destination) if git_root else None
    return Outcome(run_id, task, "passed", destination, (), counted, sha, results)


def refusals(task: Task, results: tuple[verify.Result, ...], window: float,
             moment: datetime) -> list[str]:
    if not task.criteria:
        return ["the task has no criteria: nothing would prove it done"]
    reasons = []
    for result in results:
        c = result.criterion
        label = f"#{c.number} {c.text}"
        if c.kind == model.ATTEST:
            if result.status != "attested":
                reasons.append(f"{label}: needs attestation (phasegate tasks attest {task.id} "
                               f"{c.number} --reason …)")
            continue
        if result.status == model.BLOCKED:
            reasons.append(f"{label}: blocked by {', '.join(result.blocked_by)} — "
                           f"{result.observed}")
        elif result.status == "never verified" or result.at is None:
            reasons.append(f"{label}: never verified (phasegate tasks verify {task.id})")
        elif result.status != "passed":
            reasons.append(f"{label}: {result.status} {clock.ago(result.at, moment)} — "
                           f"{result.observed}")
        elif (moment - result.at).total_seconds() > window:
            reasons.append(f"{label}: last verified {clock.ago(result.at, moment)}, longer ago "
                           f"than {clock.span(window)} (phasegate tasks verify {task.id})")
    return reasons


def _where(tasks: list[Task], task_id: str) -> str:
    for task in tasks:
        if task.id == task_id:
            return f"{task.folder}, {task.priority}"
    return "unknown"


def _today() -> str:
    return clock.now().strftime("%Y-%m-%d")


def _open(store: EvidenceStore, command: str, task: Task, meta: dict[str, Any]) -> str:
    return store.start_run(command, plan_name=task.id, plan_path=str(task.path), meta=meta)


def _close(store: EvidenceStore, run_id: str, status: str, text: str) -> None:
    step = store.start_step(run_id, verify.STAGE, "decision",
                            place=records.StepPlace(records.DECISION))
    store.finish_step(step, status, text)
    store.finish_run(run_id, status, text)


@contextlib.contextmanager
def _closing(store: EvidenceStore, run_id: str, text: str) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        _close(store, run_id, "error", f"{text} — not done: {exc}")
        raise
    _close(store, run_id, "passed", text)


def _record(store: EvidenceStore, command: str, task: Task, status: str,
            meta: dict[str, Any], reasons: tuple[str, ...], summary: str = "") -> str:
    run_id = _open(store, command, task, meta)
    _close(store, run_id, status, "; ".join(reasons) or summary)
    return run_id


def _move(task: Task, destination: Path, fields: dict[str, str], entry: str) -> None:
    with files.locked(task.path):
        text = files.read_text(task.path)
        text = files.set_fields(text, fields, str(task.path))
        text = files.append_log(text, f"{files.stamp()} · {entry}")
        if destination.exists() and destination.resolve() != task.path.resolve():
            raise PlanError(f"cannot move {task.path.name}: {destination} exists already",
                            file=str(task.path))
        files.write_atomic(destination, text)
        if destination.resolve() != task.path.resolve():
            task.path.unlink()


def _git_root(root: Path) -> Path:
    git = shutil.which("git")
    if git is None:
        raise PlanError("--commit needs git, which is not installed")
    found = subprocess.run([git, "rev-parse", "--show-toplevel"], cwd=root, capture_output=True,
                           text=True)
    if found.returncode != 0:
        raise PlanError(f"--commit: {root} is not inside a git repository")
    return Path(found.stdout.strip())


def _commit(git_root: Path, task: Task, destination: Path) -> str:
    """Commit the move (and only the move): the old path's removal and the new file."""
    def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["git", *args], cwd=git_root, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise ActionError(f"the task moved to {destination}, but `git {' '.join(args)}` "
                              f"failed: {(result.stderr or result.stdout).strip()}")
        return result

    old = str(task.path.resolve().relative_to(git_root.resolve()))
    new = str(destination.resolve().relative_to(git_root.resolve()))
    tracked = git("ls-files", "--error-unmatch", "--", old, check=False).returncode == 0
    paths = [old, new] if tracked else [new]
    if tracked:
        git("rm", "--cached", "--quiet", "--", old)
    git("add", "--", new)
    git("commit", "--quiet", "-m", f"tasks: complete {task.id} — {task.title}", "--", *paths)
    return git("rev-parse", "HEAD").stdout.strip()
