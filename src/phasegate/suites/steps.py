"""One kuttl step, as kuttl runs it: delete what it names (and wait, by watch, until gone),
run its commands, create or patch its objects, then one gate over its asserts, errors and
assert commands; collectors when that gate fails. Every operation's result is an
observation of the step."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from phasegate.engine import gate
from phasegate.errors import ActionError
from phasegate.kube import connections, objects
from phasegate.kube.client import KubeClient
from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes.base import ProbeContext
from phasegate.suites import commands, kube_ops, model

Record = Callable[[Sequence[Observation]], None]


@dataclass
class Outcome:
    passed: bool = True
    failures: list[str] = field(default_factory=list)
    created: list[kube_ops.Done] = field(default_factory=list)  # to clean up

    def fail(self, message: str) -> None:
        self.passed = False
        self.failures.append(message)


async def run(step: model.Step, ctx: ProbeContext, shell: commands.Shell,
              record: Record) -> Outcome:
    outcome = Outcome()
    client = connections.client_for(ctx)
    timeout = step.timeout or 30.0
    await _delete(step, client, ctx, shell.namespace, timeout, record, outcome)
    if not outcome.passed:
        return outcome
    for command in step.commands:
        if not await _command(command, ctx, shell, timeout, record, outcome):
            break  # kuttl stops at the first failing command, and still applies
    for obj in step.apply:
        await _apply(obj, client, shell.namespace, record, outcome)
    if not outcome.passed:
        return outcome
    calls = [*(_match(obj) for obj in step.asserts), *(_match(obj, absent=True)
                                                       for obj in step.errors),
             *(commands.call(c, shell, timeout, "assert", poll=1.0)
               for c in step.assert_commands)]
    if not calls:
        return outcome
    result = await gate.evaluate(calls, ctx, timeout, on_observations=record,
                                 label=step.title)
    if not result.passed:
        said: list[model.Command | None] = [None] * (len(step.asserts) + len(step.errors))
        said += step.assert_commands
        for final, by in zip(result.finals, said, strict=True):
            if not final.passed:
                outcome.fail(failed_command(by, final) if by else
                             f"{final.name}: {final.observed}")
        await _collect(step, ctx, shell, record)
    return outcome


def failed_command(command: model.Command, observation: Observation) -> str:
    """As kuttl says it: command "…" failed, exit status N."""
    code = observation.data.get("exit_code")
    return (f"command {command.text.strip()!r} failed"
            + (f", exit status {code}" if code is not None else f": {observation.observed}"))


def _match(obj: model.Json, *, absent: bool = False) -> ProbeCall:
    meta = obj.get("metadata") or {}
    what = f"{obj.get('kind')} {meta.get('name') or 'matching'}"
    return probe_call.build({"k8s.match": {"object": obj, "absent": absent},
                             "name": f"{'error' if absent else 'assert'}: {what}"})


async def _delete(step: model.Step, client: KubeClient, ctx: ProbeContext, namespace: str,
                  timeout: float, record: Record, outcome: Outcome) -> None:
    gone: list[ProbeCall] = []
    for ref in step.delete:
        started = datetime.now(UTC)
        what = f"{ref.kind} {ref.name or ','.join(f'{k}={v}' for k, v in ref.labels.items())}"
        try:
            resource = await kube_ops.resource_of(client, ref.api_version, ref.kind)
            where = (ref.namespace or namespace) if resource.namespaced else None
            found = await kube_ops.matching(client, resource, where, ref.name, ref.labels)
            for obj in found:
                said = await kube_ops.delete(client, resource, obj)
                record([action("suite.delete", objects.ref(obj), True, "deleted", said,
                               started)])
                gone.append(probe_call.build({"k8s.absent": {
                    "kind": resource.kind, "apiVersion": resource.api_version,
                    "name": obj["metadata"]["name"],
                    **({"namespace": where} if where else {})}}))
            if not found:
                record([action("suite.delete", what, True, "deleted", "none found", started)])
        except ActionError as exc:
            record([action("suite.delete", what, False, "deleted", str(exc), started)])
            outcome.fail(f"delete {what}: {exc}")
    if gone:  # kuttl waits until they are gone: a watch says when
        result = await gate.evaluate(gone, ctx, timeout, on_observations=record,
                                     label="delete")
        for final in result.finals:
            if not final.passed:
                outcome.fail(f"{final.name}: {final.observed}")


async def _command(command: model.Command, ctx: ProbeContext, shell: commands.Shell,
                   timeout: float, record: Record, outcome: Outcome) -> bool:
    call = commands.call(command, shell, timeout, "command")
    result = await gate.evaluate([call], ctx, 0)
    observation = result.finals[0]
    if not observation.passed and command.ignore_failure:
        observation = dataclasses.replace(
            observation, passed=True, observed=f"{observation.observed} (ignoreFailure)")
    record([observation])
    if observation.passed:
        return True
    outcome.fail(failed_command(command, observation))
    return False


async def _apply(obj: model.Json, client: KubeClient, namespace: str, record: Record,
                 outcome: Outcome) -> None:
    started = datetime.now(UTC)
    meta = obj.get("metadata") or {}
    what = f"{obj.get('kind')} {meta.get('name')}"
    try:
        done = await kube_ops.create_or_patch(client, obj, namespace)
    except ActionError as exc:
        record([action("suite.apply", what, False, "created or updated", str(exc), started)])
        outcome.fail(f"apply {what}: {exc}")
        return
    live = done.live.get("metadata", {})
    record([action("suite.apply", done.ref, True, "created or updated", done.action, started,
                   {"uid": live.get("uid"), "resourceVersion": live.get("resourceVersion")})])
    if done.action == "created":
        outcome.created.append(done)


async def _collect(step: model.Step, ctx: ProbeContext, shell: commands.Shell,
                   record: Record) -> None:
    for gather in step.collectors:
        result = await gate.evaluate([commands.collector(gather, shell, 30.0)], ctx, 0)
        # what a collector gathers is evidence, not a verdict on the step
        record([dataclasses.replace(result.finals[0], probe="suite.collect", passed=True)])


def action(probe: str, name: str, passed: bool, expected: str, observed: str,
           started: datetime, data: dict[str, Any] | None = None) -> Observation:
    """An observation of what the suite did (applied, deleted): its result, as seen."""
    return Observation(probe=probe, name=name, params={"object": name}, passed=passed,
                       expected=expected, observed=observed, detail="", started=started,
                       finished=datetime.now(UTC), attempt=1, data=data or {})
