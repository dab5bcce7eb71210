"""The task-file lock holds between real processes: two writers never hold it at once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from phasegate.tasks import files

ROUNDS = 200


def _bump(task: str, counter: str, rounds: int) -> None:
    """Read-modify-write a counter under the lock, slowly enough for a second holder to
    interleave and lose an update if the lock ever lets two in."""
    for _ in range(rounds):
        with files.locked(Path(task)):
            value = int(Path(counter).read_text())
            time.sleep(0.0005)
            files.write_atomic(Path(counter), str(value + 1))  # readers never see it torn


def test_two_processes_never_hold_the_task_lock_together(tmp_path: Path) -> None:
    task = tmp_path / "T-1-lock.md"
    task.write_text("---\nid: T-1\ntitle: lock\n---\n")
    counter = tmp_path / "counter"
    counter.write_text("0")
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_bump, args=(str(task), str(counter), ROUNDS))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert int(counter.read_text()) == 2 * ROUNDS  # no update lost: never two holders
