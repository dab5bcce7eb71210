"""The workflow of one fleet: one plan over many clusters, each target's run a child
workflow (the run workflow itself, its id the run id: fleet id + target name), in waves —
the canary wave first — with no further wave once ``max_failures`` targets failed.
Deterministic: only the standard library, temporalio and pure phasegate modules."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():  # by full name: see run_workflow
    import phasegate.temporal.fleet_waves as fleet_waves
    import phasegate.temporal.steps as steps


@workflow.defn(name=steps.FLEET_WORKFLOW)
class PhasegateFleet:
    def __init__(self) -> None:
        self.state = steps.FleetState(fleet_id="")

    @workflow.query
    def status(self) -> steps.FleetState:
        return self.state

    @workflow.run
    async def run(self, spec: steps.FleetSpec) -> steps.FleetState:
        specs = {member.name: member.spec for member in spec.members}
        self.state = steps.FleetState(
            fleet_id=spec.fleet_id,
            stages=spec.members[0].spec.stages if spec.members else [],
            members=[steps.MemberState(name, wave, specs[name].run_id)
                     for wave, names in enumerate(spec.waves, start=1) for name in names])
        members = {member.name: member for member in self.state.members}
        try:
            for number, names in enumerate(spec.waves, start=1):
                self.state.wave = number
                await asyncio.gather(*(self._child(members[name], specs[name])
                                       for name in names))
                self.state.stopped = fleet_waves.stop_reason(
                    [m.status for m in self.state.members], spec.max_failures)
                if self.state.stopped and number < len(spec.waves):
                    break
                self.state.stopped = ""
        except asyncio.CancelledError:
            for member in self.state.members:
                if member.status in fleet_waves.UNFINISHED:
                    member.status, member.ended = "interrupted", _now()
        self.state.status = fleet_waves.fleet_status(
            [m.status for m in self.state.members], self.state.stopped)
        return self.state

    async def _child(self, member: steps.MemberState, spec: steps.RunSpec) -> None:
        """One target's run, to its end; the member keeps what it ended as."""
        member.status, member.started = "running", _now()
        try:
            final = await workflow.execute_child_workflow(
                steps.WORKFLOW, spec, id=spec.run_id, result_type=steps.RunState,
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL)
        except ChildWorkflowError as exc:
            member.status, member.detail = "error", str(exc.cause or exc)
        else:
            member.status, member.stage = final.status, final.stage
            member.stopped_at, member.detail = final.stopped_at, final.detail
        member.ended = _now()


def _now() -> str:
    return workflow.now().isoformat()
