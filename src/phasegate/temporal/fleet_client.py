"""The client side of a fleet: one run spec per target (the plan loaded with the target's
inputs, checked before anything starts), the fleet workflow started, followed, and its
status read — the fleet's query for which target ran when, each running target's own
query for where it is now."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio import client as tclient
from temporalio.service import RPCError

from phasegate.errors import PlanError, TargetError
from phasegate.plan.loader import load_plan
from phasegate.store import evidence
from phasegate.temporal import client, fleet_targets, fleet_waves, steps
from phasegate.workflow import check, pipeline

FOLLOW_EVERY = 0.5  # seconds between two reads of a followed fleet


def spec_for(plan_path: Path, values: dict[str, Any], fleet: fleet_targets.Fleet,
             options: pipeline.RunOptions, where: client.Where) -> steps.FleetSpec:
    """The fleet as its workflow gets it; a plan that does not load (or whose manifests are
    invalid) with some target's inputs refuses the whole fleet, naming the target."""
    fleet_id = evidence.new_run_id()  # its targets' runs: FLEET-NAME
    members = []
    for target in fleet.targets:
        try:
            loaded = load_plan(plan_path, {**values, **target.inputs})
            check.manifests_valid(loaded)
        except PlanError as exc:
            raise PlanError(f"target {target.name}: {exc.message}", file=exc.file,
                            line=exc.line, column=exc.column, path=exc.path,
                            suggestion=exc.suggestion) from None
        mine = dataclasses.replace(options, context=target.context,
                                   kubeconfig=target.kubeconfig)
        spec = dataclasses.replace(client.spec_for(loaded, mine, where),
                                   run_id=f"{fleet_id}-{target.name}")
        members.append(steps.FleetMember(target.name, spec))
    waves = fleet_waves.plan_waves([t.name for t in fleet.targets], fleet.canary,
                                   fleet.max_parallel)
    return steps.FleetSpec(fleet_id, members, waves, fleet.max_failures)


async def start(connected: tclient.Client, spec: steps.FleetSpec, where: client.Where) -> None:
    await connected.start_workflow(steps.FLEET_WORKFLOW, spec, id=spec.fleet_id,
                                   task_queue=where.task_queue, result_type=steps.FleetState)


async def follow(connected: tclient.Client, fleet_id: str,
                 say: Callable[[str], None]) -> steps.FleetState:
    """Wait for the fleet's end, saying each target's start and end as they come."""
    handle = connected.get_workflow_handle(fleet_id, result_type=steps.FleetState)
    result = asyncio.ensure_future(handle.result())
    told: dict[str, str] = {}
    try:
        while True:
            await asyncio.wait([result], timeout=FOLLOW_EVERY)
            if result.done():
                if not client.transient(result.exception()):
                    break
                # the server restarts (or the network blinks): the fleet goes on there
                await asyncio.sleep(FOLLOW_EVERY)
                result = asyncio.ensure_future(handle.result())
                continue
            try:
                _tell(await handle.query("status", result_type=steps.FleetState), told, say)
            except RPCError:
                continue  # no worker answers yet
        final: steps.FleetState = result.result()
    finally:
        result.cancel()
    _tell(final, told, say)
    return final


def _tell(now: steps.FleetState, told: dict[str, str], say: Callable[[str], None]) -> None:
    for member in now.members:
        if member.status != told.get(member.name, "not started"):
            told[member.name] = member.status
            stopped = member.stopped_at and member.status != "passed"
            at = f" at {member.stopped_at}" if stopped else ""
            say(f"fleet · wave {member.wave}: {member.name} {member.status}{at} "
                f"(run {member.run_id})")


async def status(connected: tclient.Client, fleet_id: str) -> dict[str, Any]:
    """The fleet as it is now: per target its wave, run, times, each stage's state, and the
    hash to approve when its run waits at P."""
    fleet = await _fleet(connected, fleet_id)
    rows = []
    for member in fleet.members:
        state, stage, stopped_at = member.status, member.stage, member.stopped_at
        plan_hash = None
        if state in fleet_waves.UNFINISHED:  # the fleet knows it started: ask the run
            try:
                live = await client.state(connected, member.run_id)
                state, stage, stopped_at = live.status, live.stage, live.stopped_at
                plan_hash = live.plan_hash if state == "awaiting approval" else None
            except TargetError:
                pass
        rows.append({"target": member.name, "wave": member.wave, "run_id": member.run_id,
                     "status": state, "started": member.started or None,
                     "ended": member.ended or None, "detail": member.detail,
                     "plan_hash": plan_hash,
                     "stages": fleet_waves.stage_cells(fleet.stages, state, stage,
                                                       stopped_at)})
    return {"fleet_id": fleet.fleet_id, "status": fleet.status, "wave": fleet.wave,
            "stopped": fleet.stopped, "stages": fleet.stages, "targets": rows}


async def cancel(connected: tclient.Client, fleet_id: str) -> dict[str, Any]:
    """Stop the fleet: the targets' runs going now stop as `phasegate cancel` stops one
    (tracers cleaned up, "interrupted" recorded), no further wave starts; once it has."""
    handle = connected.get_workflow_handle(fleet_id, result_type=steps.FleetState)
    try:
        await handle.cancel()
        await handle.result()
    except RPCError as exc:
        raise TargetError(f"fleet {fleet_id}: {exc} (its workflow id is the fleet id)") from None
    return await status(connected, fleet_id)


async def _fleet(connected: tclient.Client, fleet_id: str) -> steps.FleetState:
    handle = connected.get_workflow_handle(fleet_id, result_type=steps.FleetState)
    try:
        found: steps.FleetState = await handle.query("status", result_type=steps.FleetState)
        return found
    except RPCError as exc:
        try:  # a closed fleet no worker replays: its result says the same
            described = await handle.describe()
            if described.status not in (None, tclient.WorkflowExecutionStatus.RUNNING):
                ended: steps.FleetState = await handle.result()
                return ended
        except RPCError:
            pass
        raise TargetError(f"fleet {fleet_id}: {exc} (its workflow id is the fleet id)") from None
