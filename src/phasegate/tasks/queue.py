"""The priority queue: open tasks by priority, then age; blocked tasks with their blockers.

A blocker is a task that is not completed. A ``blocked_by`` (of a task or of one of its
criteria) naming no task, or a cycle of them, is an error that names the file, the place
and the cycle.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from phasegate.tasks import files
from phasegate.tasks.model import Task


@dataclass(frozen=True)
class Entry:
    task: Task
    blockers: tuple[str, ...] = ()  # ids of the tasks it waits for that are not completed

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)


@dataclass(frozen=True)
class Queue:
    ready: tuple[Entry, ...]  # open and unblocked, in the order to work on them
    blocked: tuple[Entry, ...]
    completed: tuple[Task, ...]

    def open_blockers(self, ids: Sequence[str]) -> tuple[str, ...]:
        """Those of ``ids`` that are not completed."""
        done = {task.id for task in self.completed}
        return tuple(i for i in ids if i not in done)

    def next(self) -> Entry | None:
        return self.ready[0] if self.ready else None

    def entry(self, task_id: str) -> Entry | None:
        for entry in (*self.ready, *self.blocked):
            if entry.task.id == task_id:
                return entry
        return None


def order_key(task: Task) -> tuple[int, float, str]:
    return (task.rank, task.created.timestamp(), task.id)


def _waits(task: Task) -> list[tuple[tuple[str | int, ...], str]]:
    """Every task id ``task`` waits for, with where it is written: the task's own
    ``blocked_by`` first, then its criteria's (a task cannot complete before those)."""
    found: list[tuple[tuple[str | int, ...], str]] = [
        (("blocked_by", i), b) for i, b in enumerate(task.blocked_by)]
    found += [(("criteria", c.number - 1, "blocked_by", i), b)
              for c in task.criteria for i, b in enumerate(c.blocked_by)]
    return found


def build(tasks: Sequence[Task]) -> Queue:
    by_id = {task.id: task for task in tasks}
    for task in tasks:
        for where, blocker in _waits(task):
            if blocker not in by_id:
                others = [i for i in by_id if i != task.id]
                close = difflib.get_close_matches(blocker, others, n=1, cutoff=0.6)
                tree = files.front_tree(task.path)
                raise files.located(f"blocked by '{blocker}', which is no task in this "
                                    "directory", tree, where, str(task.path),
                                    close[0] if close else None)
    cycle = find_cycle(tasks)
    if cycle:
        first = by_id[cycle[0]]
        tree = files.front_tree(first.path)
        where = next(w for w, blocker in _waits(first) if blocker == cycle[1])
        raise files.located("dependency cycle: " + " → ".join(cycle) + " (each waits for the "
                            "next, so none can start)", tree, where, str(first.path))
    ready: list[Entry] = []
    blocked: list[Entry] = []
    for task in sorted(tasks, key=order_key):
        if task.done:
            continue
        blockers = tuple(b for b in task.blocked_by if not by_id[b].done)
        (blocked if blockers else ready).append(Entry(task, blockers))
    completed = tuple(sorted((t for t in tasks if t.done), key=order_key))
    return Queue(tuple(ready), tuple(blocked), completed)


def find_cycle(tasks: Sequence[Task]) -> list[str] | None:
    """A cycle of ``blocked_by`` as ids ``[a, b, …, a]``, the first found in id order."""
    graph = {task.id: list(dict.fromkeys(b for _, b in _waits(task))) for task in tasks}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def load(root: Path) -> tuple[list[Task], Queue]:
    tasks = files.load_dir(root)
    return tasks, build(tasks)
