"""The tasks directory as plain data, for reports: the queue, what is blocked, each task's
criteria as the evidence store knows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasegate.store.evidence import EvidenceStore
from phasegate.tasks import queue, verify
from phasegate.tasks.model import Task


def take(root: Path, store: EvidenceStore) -> dict[str, Any]:
    tasks, built = queue.load(root)
    states = verify.all_states(store, tasks)

    def doc(task: Task, blockers: tuple[str, ...] = ()) -> dict[str, Any]:
        return {"id": task.id, "title": task.title, "priority": task.priority,
                "folder": task.folder, "created": task.created.isoformat(),
                "blocked_by": list(task.blocked_by), "blockers": list(blockers),
                "tally": verify.tally(states[task.id]).to_dict()}

    ordered = [*built.ready, *built.blocked]
    return {
        "directory": str(root),
        "queue": [doc(e.task) for e in built.ready],
        "blocked": [doc(e.task, e.blockers) for e in built.blocked],
        "tasks": [doc(e.task, e.blockers) for e in ordered] + [doc(t) for t in built.completed],
    }


def document(task: Task, results: tuple[verify.Result, ...],
             blockers: list[str]) -> dict[str, Any]:
    """One task with what is known of each criterion: ``tasks list --json``'s entries, and
    the MCP server's."""
    return {"id": task.id, "title": task.title, "priority": task.priority,
            "folder": task.folder, "status": task.status, "path": str(task.path),
            "created": task.created.isoformat(), "blocked_by": list(task.blocked_by),
            "blockers": blockers, "tally": verify.tally(results).to_dict(),
            "criteria": [r.to_dict() for r in results]}
