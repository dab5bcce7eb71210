"""The client side of the Temporal engine: start a run (workflow id = run id), follow it,
decide its stage P, cancel it, read its live state. The CLI's ``--engine temporal`` and
``approve``/``reject``/``cancel`` call these; nothing here touches a cluster or the store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from temporalio import client as tclient
from temporalio.service import RPCError, RPCStatusCode

from phasegate.errors import PlanError, TargetError
from phasegate.plan.model import Plan
from phasegate.store import evidence
from phasegate.temporal import steps
from phasegate.workflow import pipeline

FOLLOW_EVERY = 0.25  # seconds between two reads of a followed run's live state


@dataclass(frozen=True)
class Where:
    address: str = steps.DEFAULT_ADDRESS
    namespace: str = steps.DEFAULT_NAMESPACE
    task_queue: str = steps.DEFAULT_TASK_QUEUE


async def connect(where: Where) -> tclient.Client:
    try:
        return await tclient.Client.connect(where.address, namespace=where.namespace)
    except (RPCError, RuntimeError) as exc:
        raise TargetError(f"cannot reach the Temporal server at {where.address} (namespace "
                          f"{where.namespace}): {exc}; start one with `temporal server "
                          "start-dev --db-filename temporal.db` (docs/temporal.md)") from None


def spec_for(plan: Plan, options: pipeline.RunOptions, where: Where, *,
             command: str = "run", heartbeat_seconds: float = 10.0) -> steps.RunSpec:
    """The run as the workflow gets it: the plan by path and hash, its shape, the options."""
    if plan.source is None:
        raise PlanError("the Temporal engine runs plans from files: workers read them there")
    return steps.RunSpec(
        run_id=evidence.new_run_id(), plan_path=str(plan.source.resolve()),
        plan_hash=plan.content_hash, inputs=plan.inputs, stages=list(options.stages),
        tracers=[t.name for t in plan.tracers],
        phases=[steps.PhaseShape(i, p.name) for i, p in enumerate(plan.phases, start=1)],
        command=command, approve=options.approve, yes=options.yes, context=options.context,
        kubeconfig=options.kubeconfig, reports_dir=str(options.reports_dir.resolve()),
        level=options.level, heartbeat_seconds=heartbeat_seconds,
        connection={"address": where.address, "namespace": where.namespace,
                    "task_queue": where.task_queue})


async def start(client: tclient.Client, spec: steps.RunSpec,
                where: Where) -> tclient.WorkflowHandle[object, steps.RunState]:
    handle: tclient.WorkflowHandle[object, steps.RunState] = await client.start_workflow(
        steps.WORKFLOW, spec, id=spec.run_id, task_queue=where.task_queue,
        result_type=steps.RunState)
    return handle


async def follow(client: tclient.Client, run_id: str,
                 say: Callable[[str], None]) -> steps.RunState:
    """Wait for the run's end, saying each progress line as the run says it."""
    handle = client.get_workflow_handle(run_id, result_type=steps.RunState)
    result = asyncio.ensure_future(handle.result())
    shown = 0
    try:
        while True:
            await asyncio.wait([result], timeout=FOLLOW_EVERY)
            if result.done():
                if not transient(result.exception()):
                    break
                # the server restarts (or the network blinks): the run goes on there
                await asyncio.sleep(FOLLOW_EVERY)
                result = asyncio.ensure_future(handle.result())
                continue
            try:
                now = await handle.query("status", result_type=steps.RunState)
            except RPCError:
                continue  # no worker answers yet: the run waits for one too
            for line in now.lines[shown:]:
                say(line)
            shown = len(now.lines)
        final: steps.RunState = result.result()
    finally:
        result.cancel()
    for line in final.lines[shown:]:
        say(line)
    return final


async def state(client: tclient.Client, run_id: str) -> steps.RunState:
    """The run as it is now (answered by a worker; for a closed run, its final state)."""
    handle = client.get_workflow_handle(run_id)
    try:
        found: steps.RunState = await handle.query("status", result_type=steps.RunState)
    except RPCError as exc:
        raise TargetError(f"run {run_id}: {_said(exc)}") from None
    return found


async def decide(client: tclient.Client, run_id: str, decision: steps.Decision) -> str:
    """Approve or reject stage P; a wrong hash (or a run not waiting) is refused by the
    workflow itself, with why."""
    handle = client.get_workflow_handle(run_id)
    try:
        answer: str = await handle.execute_update("decide", decision, result_type=str)
    except tclient.WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise PlanError(str(getattr(cause, "message", cause))) from None
    except RPCError as exc:
        raise TargetError(f"run {run_id}: {_said(exc)}") from None
    return answer


async def cancel(client: tclient.Client, run_id: str) -> steps.RunState:
    """Ask the run to stop (tracers cleaned up, "interrupted" recorded) and wait until it has.
    A fleet's id is refused, with nothing cancelled: ``phasegate fleet cancel`` stops one."""
    handle = client.get_workflow_handle(run_id, result_type=steps.RunState)
    try:
        if (await handle.describe()).workflow_type == steps.FLEET_WORKFLOW:
            raise PlanError(f"{run_id} is a fleet, not a run: stop it with `phasegate fleet "
                            f"cancel {run_id}` (or one of its targets' runs with `phasegate "
                            f"cancel {run_id}-TARGET`); nothing was cancelled")
        await handle.cancel()
        final: steps.RunState = await handle.result()
        return final
    except RPCError as exc:
        raise TargetError(f"run {run_id}: {_said(exc)}") from None


def transient(error: BaseException | None) -> bool:
    """A failure to ask that asking again may mend (the server away for a moment)."""
    final = {RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT,
             RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNAUTHENTICATED}
    return isinstance(error, RPCError) and error.status not in final


def _said(exc: RPCError) -> str:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return "no such run on this Temporal server (its workflow id is the run id)"
    return str(exc)


def as_result(final: steps.RunState) -> pipeline.RunResult:
    """A finished run's state as the local engine returns its result."""
    from phasegate.workflow import phases, tracers

    return pipeline.RunResult(
        final.run_id, status=final.status, stopped_at=final.stopped_at, detail=final.detail,
        files=dict(final.files), plan_hash=final.plan_hash, preview=final.preview,
        phases=[phases.PhaseOutcome(p.index, p.name, p.status, p.detail) for p in final.phases],
        tracers=[tracers.TracerOutcome(t.name, t.assumption, t.passed, t.evidence)
                 for t in final.tracers])
