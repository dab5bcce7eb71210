"""The task tools: the verified queue, the next task, and verifying one (its criteria's
probes asked of reality and recorded, as `phasegate tasks verify`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from phasegate.mcp import service
from phasegate.mcp.service import Result, Service
from phasegate.mcp.workflow_tools import Inputs, Timeout

Directory = Annotated[str | None, Field(
    description="the tasks directory (backlog/, active/, completed/); default: the "
    "server's --tasks")]


class TaskTools:
    def __init__(self, served: Service) -> None:
        self.served = served

    def _root(self, directory: str | None) -> Path:
        return Path(directory) if directory else self.served.settings.tasks_dir

    async def tasks_list(self, directory: Directory = None) -> Result:
        """The task queue (priority, then age) with each criterion as the evidence knows
        it, the blocked tasks and what they wait for, and the completed ones."""
        from phasegate.tasks import queue, snapshot, verify

        root = self._root(directory)
        tasks, built = queue.load(root)
        states = verify.all_states(self.served.store(), tasks)
        return {"directory": str(root),
                "queue": [snapshot.document(e.task, states[e.task.id], list(e.blockers))
                          for e in built.ready],
                "blocked": [snapshot.document(e.task, states[e.task.id], list(e.blockers))
                            for e in built.blocked],
                "completed": [snapshot.document(t, states[t.id], []) for t in built.completed]}

    async def tasks_next(self, directory: Directory = None) -> Result:
        """The task to work on next: the first unblocked one in the queue, with its
        criteria (null when every open task is blocked or the queue is empty)."""
        from phasegate.tasks import queue, snapshot, verify

        _tasks, built = queue.load(self._root(directory))
        entry = built.next()
        if entry is None:
            return {"next": None}
        results = verify.current(entry.task, verify.states(self.served.store(), entry.task))
        return {"next": snapshot.document(entry.task, results, [])}

    async def tasks_verify(self, task: Annotated[str, Field(description="the task's id")],
                           directory: Directory = None, inputs: Inputs = None,
                           timeout: Timeout = None) -> Result:
        """Verify a task: ask every criterion's probe (read-only), record the evidence as a
        run and log the result in the task file. `passed` is false when a criterion fails."""
        from phasegate.tasks import files, verify

        root = self._root(directory)
        found = files.find(root, task)
        settings = self.served.settings
        async with self.served.cluster:
            result = await verify.verify(found, root, self.served.store(),
                                         service.inputs(inputs), service.seconds(timeout),
                                         context=settings.context,
                                         kubeconfig=settings.kubeconfig)
        return {"run_id": result.run_id, "task": found.id, "passed": result.passed,
                "summary": result.tally.sentence(), "tally": result.tally.to_dict(),
                "criteria": [r.to_dict() for r in result.results]}
