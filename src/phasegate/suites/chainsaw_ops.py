"""One Chainsaw step: its ``try`` operations in order until one fails, then ``catch`` (when
one did), ``finally`` and ``cleanup``. Asserts and errors are watch-based gates of
``k8s.match`` checks, each within its own timeout; every operation is an observation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from phasegate.engine import gate
from phasegate.errors import ActionError
from phasegate.kube import connections, objects
from phasegate.kube.client import KubeClient
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from phasegate.suites import commands, kube_ops, model, steps


async def run(step: model.Step, ctx: ProbeContext, shell: commands.Shell,
              record: steps.Record) -> steps.Outcome:
    outcome = steps.Outcome()
    for operation in step.operations:
        if not await _one(operation, ctx, shell, record, outcome):
            break  # Chainsaw stops a step's try at its first failing operation
    for operation in (*(step.catch if not outcome.passed else ()), *step.finally_,
                      *step.cleanup):
        await _one(operation, ctx, shell, record, outcome)
    return outcome


async def _one(operation: model.Operation, ctx: ProbeContext, shell: commands.Shell,
               record: steps.Record, outcome: steps.Outcome) -> bool:
    before = len(outcome.failures)
    client = connections.client_for(ctx)
    kind = operation.kind
    if kind in ("apply", "update", "patch", "create"):
        for obj in operation.objects:
            await _change(kind, obj, client, shell.namespace, record, outcome,
                          operation.subresource)
    elif kind in ("assert", "error"):
        calls = [probe_call.build({"k8s.match": {"object": obj, "absent": kind == "error"},
                                   "name": f"{kind}: {_named(obj)}"})
                 for obj in operation.objects]
        result = await gate.evaluate(calls, ctx, operation.timeout, on_observations=record,
                                     label=kind)
        for final in result.finals:
            if not final.passed:
                outcome.fail(f"{final.name}: {final.observed}")
    elif kind == "delete":
        await _delete(operation, client, ctx, shell.namespace, record, outcome)
    elif kind == "sleep":
        started = datetime.now(UTC)
        await asyncio.sleep(operation.seconds)
        record([steps.action("suite.sleep", f"sleep {operation.seconds:g}s", True, "slept",
                             "slept", started)])
    elif operation.command is not None:
        call = commands.call(operation.command, shell, operation.timeout, kind)
        result = await gate.evaluate([call], ctx, 0)
        record([result.finals[0]])
        if not result.passed:
            outcome.fail(steps.failed_command(operation.command, result.finals[0]))
    else:
        record([steps.action("suite.unsupported", operation.where, False, "supported",
                             "not supported", datetime.now(UTC))])
        outcome.fail(f"{operation.where}: operation not supported")
    return len(outcome.failures) == before


async def _change(kind: str, obj: model.Json, client: KubeClient, namespace: str,
                  record: steps.Record, outcome: steps.Outcome, subresource: str = "") -> None:
    started = datetime.now(UTC)
    what = _named(obj)
    try:
        if kind == "create":
            done = await kube_ops.create(client, obj, namespace)
        elif kind == "update":  # Chainsaw's update replaces the object
            done = await kube_ops.replace(client, obj, namespace)
        elif kind == "patch":
            done = await kube_ops.create_or_patch(client, obj, namespace, must_exist=True,
                                                  subresource=subresource)
        else:
            done = await kube_ops.create_or_patch(client, obj, namespace)
    except ActionError as exc:
        record([steps.action(f"suite.{kind}", what, False, "done", str(exc), started)])
        outcome.fail(f"{kind} {what}: {exc}")
        return
    record([steps.action(f"suite.{kind}", done.ref, True, "done", done.action, started)])
    if done.action == "created":
        outcome.created.append(done)


async def _delete(operation: model.Operation, client: KubeClient, ctx: ProbeContext,
                  namespace: str, record: steps.Record, outcome: steps.Outcome) -> None:
    gone = []
    for obj in operation.objects:
        meta = obj.get("metadata") or {}
        started = datetime.now(UTC)
        try:
            resource = await kube_ops.resource_of(client, str(obj.get("apiVersion", "")),
                                                  str(obj.get("kind", "")))
            where = (meta.get("namespace") or namespace) if resource.namespaced else None
            found = await kube_ops.matching(client, resource, where, str(meta.get("name", "")),
                                            dict(meta.get("labels") or {}))
            for item in found:
                said = await kube_ops.delete(client, resource, item)
                record([steps.action("suite.delete", objects.ref(item), True, "deleted", said,
                                     started)])
                gone.append(probe_call.build({"k8s.absent": {
                    "kind": resource.kind, "apiVersion": resource.api_version,
                    "name": item["metadata"]["name"], **({"namespace": where} if where else {})}}))
            if not found:  # Chainsaw expects what it deletes to be there
                record([steps.action("suite.delete", _named(obj), False, "deleted",
                                     "not found", started)])
                outcome.fail(f"delete {_named(obj)}: not found")
        except ActionError as exc:
            record([steps.action("suite.delete", _named(obj), False, "deleted", str(exc),
                                 started)])
            outcome.fail(f"delete {_named(obj)}: {exc}")
    if gone:
        result = await gate.evaluate(gone, ctx, operation.timeout, on_observations=record,
                                     label="delete")
        for final in result.finals:
            if not final.passed:
                outcome.fail(f"{final.name}: {final.observed}")


def _named(obj: model.Json) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('name') or 'matching'}"
