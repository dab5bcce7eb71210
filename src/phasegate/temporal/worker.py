"""``phasegate worker``: one process that runs the workflows (runs and fleets) and the
activities of a task queue, writing evidence to its store. Several may serve one queue; a
dead one's steps are retried by another (their heartbeats stop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import worker as tworker
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from phasegate.store.evidence import EvidenceStore
from phasegate.temporal import activities, fleet_workflow, held, run_workflow
from phasegate.temporal import client as tclient


async def serve(where: tclient.Where, store: EvidenceStore, *, deployment: str | None = None,
                build_id: str | None = None,
                ready: Callable[[str], None] | None = None) -> None:
    """Serve ``where.task_queue`` until cancelled (Ctrl-C, SIGTERM). With ``deployment`` and
    ``build_id`` the worker is one version of a worker deployment: each run stays on the
    version it started on (pinned), so an upgrade never replays old runs on new code."""
    connected = await tclient.connect(where)
    held.hold(store)
    versioning = None
    if deployment and build_id:
        versioning = tworker.WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(deployment, build_id), use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.PINNED)
    running = tworker.Worker(
        connected, task_queue=where.task_queue,
        workflows=[run_workflow.PhasegateRun, fleet_workflow.PhasegateFleet],
        activities=activities.ALL, deployment_config=versioning, **settings())
    async with running:
        if ready is not None:
            ready(f"worker serving task queue {where.task_queue} on {where.address} "
                  f"(namespace {where.namespace}), evidence in {store.describe()}")
        await _forever()


# What the workflows' sandbox takes from the worker as it is instead of loading it afresh
# for every workflow, besides the standard library and temporalio (its default): phasegate's
# pure modules the workflows use, plain dataclasses and functions without I/O or state.
PURE = ("phasegate.temporal.steps", "phasegate.temporal.fleet_waves",
        "phasegate.workflow.verdicts")


def settings() -> dict[str, Any]:
    """How a worker runs its workflows and activities: up to 200 steps at once (a gate
    waiting holds one), the workflows in a sandbox that takes the pure modules as they are
    (``bench/temporal_overhead.py``'s floor worker takes the same, to measure Temporal and
    the machine without phasegate)."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PURE)
    return {"max_concurrent_activities": 200,
            "workflow_runner": SandboxedWorkflowRunner(restrictions=restrictions)}


async def _forever() -> None:
    import asyncio

    await asyncio.Event().wait()
