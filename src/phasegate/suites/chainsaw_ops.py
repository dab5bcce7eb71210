"""One Chainsaw step: its ``try`` operations in order until one fails, then ``catch`` (when
one did), ``finally`` and ``cleanup``. Each operation first adds its bindings and templates
its resources (:mod:`chainsaw_language`); asserts and errors are watch-based gates of
``k8s.match`` checks on Chainsaw's assertion trees, each within its own timeout; every
operation is an observation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from phasegate.engine import gate
from phasegate.errors import ActionError
from phasegate.kube import connections, objects
from phasegate.kube.client import KubeClient
from phasegate.plan import probe_call
from phasegate.probes import assertion_tree, expressions
from phasegate.probes.base import ProbeContext
from phasegate.probes.expressions import Scope
from phasegate.suites import chainsaw_exec, commands, kube_ops, model, steps
from phasegate.suites import chainsaw_language as language


@dataclass
class State:
    """What a test's step shares among its operations: the bindings so far (the outputs of
    those done included) and how many operations ran (``$operation.id``)."""

    test: model.Test
    step: model.Step
    bindings: language.Bindings
    operations: int = 0


async def run(step: model.Step, ctx: ProbeContext, shell: commands.Shell,
              record: steps.Record, test: model.Test,
              bindings: language.Bindings) -> steps.Outcome:
    outcome = steps.Outcome()
    try:
        own = await language.bind(ctx, {**bindings, "step": {"id": step.index + 1}},
                                  step.bindings)
    except expressions.ExpressionError as exc:
        outcome.fail(f"step bindings: {exc}")
        return outcome
    state = State(test, step, own)
    for operation in step.operations:
        if not await _one(operation, ctx, shell, record, outcome, state):
            break  # Chainsaw stops a step's try at its first failing operation
    for operation in (*(step.catch if not outcome.passed else ()), *step.finally_,
                      *step.cleanup):
        await _one(operation, ctx, shell, record, outcome, state)
    return outcome


async def _one(operation: model.Operation, ctx: ProbeContext, shell: commands.Shell,
               record: steps.Record, outcome: steps.Outcome, state: State) -> bool:
    before = len(outcome.failures)
    state.operations += 1
    try:
        bindings = await language.bind(
            ctx, {**state.bindings, "operation": {"id": state.operations, "resourceId": 0}},
            operation.bindings)
        resources = await _templated(operation, ctx, bindings, state)
    except expressions.ExpressionError as exc:
        record([steps.action(f"suite.{operation.kind}", operation.where, False,
                             "bindings and templates evaluated", str(exc), datetime.now(UTC))])
        outcome.fail(f"{operation.where}: {exc}")
        return False
    client = connections.client_for(ctx)
    kind = operation.kind
    if kind in ("apply", "update", "patch", "create"):
        for index, obj in enumerate(resources):
            await _change(operation, obj, client, ctx, shell.namespace, record, outcome,
                          {**bindings, "operation": {"id": state.operations,
                                                     "resourceId": index + 1}}, state)
    elif kind in ("assert", "error"):
        calls = [probe_call.build({"k8s.match": {"object": obj, "absent": kind == "error",
                                                 "bindings": language.used(obj, bindings)},
                                   "name": f"{kind}: {named(obj)}"})
                 for obj in resources]
        result = await gate.evaluate(calls, ctx, operation.timeout, on_observations=record,
                                     label=kind)
        for final in result.finals:
            if not final.passed:
                outcome.fail(f"{final.name}: {final.observed}")
    elif kind == "delete":
        await _delete(resources, operation, client, ctx, shell.namespace, record, outcome)
    elif kind == "sleep":
        started = datetime.now(UTC)
        await asyncio.sleep(operation.seconds)
        record([steps.action("suite.sleep", f"sleep {operation.seconds:g}s", True, "slept",
                             "slept", started)])
    elif operation.command is not None:
        outputs = await chainsaw_exec.run(operation, ctx, shell, record, outcome, bindings)
        state.bindings = {**state.bindings, **outputs}
    else:
        record([steps.action("suite.unsupported", operation.where, False, "supported",
                             "not supported", datetime.now(UTC))])
        outcome.fail(f"{operation.where}: operation not supported")
    return len(outcome.failures) == before


async def _templated(operation: model.Operation, ctx: ProbeContext,
                     bindings: language.Bindings, state: State) -> list[model.Json]:
    """The operation's resources, templated unless its operation, step or test says not."""
    template = next((flag for flag in (operation.template, state.step.template)
                     if flag is not None), state.test.template)
    if not template or not operation.objects:
        return list(operation.objects)
    return await language.evaluated(ctx, bindings, lambda scope: [
        language.resource(obj, scope, operation.kind) for obj in operation.objects],
        operation.objects)


async def _change(operation: model.Operation, obj: model.Json, client: KubeClient,
                  ctx: ProbeContext, namespace: str, record: steps.Record,
                  outcome: steps.Outcome, bindings: language.Bindings, state: State) -> None:
    started = datetime.now(UTC)
    kind = operation.kind
    what = named(obj)
    error: str | None = None
    failure = ""
    done: kube_ops.Done | None = None
    try:
        if kind == "create":
            done = await kube_ops.create(client, obj, namespace, strict=True)
        elif kind == "update":  # Chainsaw's update replaces the object
            done = await kube_ops.replace(client, obj, namespace, strict=True)
        elif kind == "patch":
            done = await kube_ops.create_or_patch(client, obj, namespace, must_exist=True,
                                                  subresource=operation.subresource,
                                                  strict=True)
        else:
            done = await kube_ops.create_or_patch(client, obj, namespace, strict=True)
    except ActionError as exc:
        error = exc.said if isinstance(exc, kube_ops.Refused) else str(exc)
        failure = str(exc)
    expected = await _expected(operation, obj, ctx, {**bindings, "error": error})
    if expected is not None:  # an expect matched: its checks decide, not the API's answer
        record([steps.action(f"suite.{kind}", done.ref if done else what, expected is True,
                             "as expected", error or (done.action if done else ""), started,
                             {"error": error})])
        if expected is not True:
            outcome.fail(f"{kind} {what}: {expected}")
    elif done is None:
        record([steps.action(f"suite.{kind}", what, False, "done", failure, started)])
        outcome.fail(f"{kind} {what}: {failure}")
    else:
        record([steps.action(f"suite.{kind}", done.ref, True, "done", done.action, started)])
    if done is not None and done.action == "created":
        outcome.created.append(done)
    if done is not None and operation.outputs:
        outputs = await language.evaluated(ctx, bindings, lambda scope: language.outputs(
            operation.outputs, obj, scope), operation.outputs)
        state.bindings = {**state.bindings, **outputs}


async def _expected(operation: model.Operation, obj: model.Json, ctx: ProbeContext,
                    bindings: language.Bindings) -> bool | str | None:
    """Chainsaw's ``expect``: None when no entry's ``match`` holds for the object, else
    True when their checks hold on ``$error`` (the API's refusal, or null), or why not."""
    if not operation.expect:
        return None

    def work(scope: Scope) -> bool | str | None:
        matched = [check for match, check in operation.expect
                   if match is None or assertion_tree.mismatch(match, obj, scope) is None]
        if not matched:
            return None
        for check in matched:
            problem = assertion_tree.mismatch(check, obj, scope)
            if problem:
                return f"expect failed: {problem}"
        return True

    try:
        return await language.evaluated(ctx, bindings, work, operation.expect)
    except expressions.ExpressionError as exc:
        return f"expect failed: {exc}"


async def _delete(resources: list[model.Json], operation: model.Operation,
                  client: KubeClient, ctx: ProbeContext, namespace: str,
                  record: steps.Record, outcome: steps.Outcome) -> None:
    gone = []
    for obj in resources:
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
            if not found:  # gone already is deleted: Chainsaw's wait example deletes twice
                record([steps.action("suite.delete", named(obj), True, "deleted",
                                     "none found", started)])
        except ActionError as exc:
            record([steps.action("suite.delete", named(obj), False, "deleted", str(exc),
                                 started)])
            outcome.fail(f"delete {named(obj)}: {exc}")
    if gone:
        result = await gate.evaluate(gone, ctx, operation.timeout, on_observations=record,
                                     label="delete")
        for final in result.finals:
            if not final.passed:
                outcome.fail(f"{final.name}: {final.observed}")


def named(obj: model.Json) -> str:
    if not obj.get("kind"):
        return "assertion tree"
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('name') or 'matching'}"
