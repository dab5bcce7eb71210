"""A Chainsaw ``script`` or ``command`` (and the kubectl commands ``wait``, ``get``… run
as): its env evaluated from bindings, run once as a ``command`` check, then its ``check``
asserted on ``$stdout``, ``$stderr`` and ``$error`` (without one, it must exit 0) and its
``outputs`` bound for the rest of the step."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from phasegate.engine import gate
from phasegate.observation import Observation
from phasegate.probes import assertion_tree, expressions
from phasegate.probes.base import ProbeContext
from phasegate.suites import chainsaw_language as language
from phasegate.suites import commands, model, steps


async def run(operation: model.Operation, ctx: ProbeContext, shell: commands.Shell,
              record: steps.Record, outcome: steps.Outcome,
              bindings: language.Bindings) -> language.Bindings:
    """Runs it; returns its outputs."""
    assert operation.command is not None
    started = datetime.now(UTC)
    reads = operation.check is not None or bool(operation.outputs)
    try:
        env = await language.evaluated(ctx, bindings,
                                       lambda scope: language.env(operation.env, scope),
                                       operation.env)
    except expressions.ExpressionError as exc:
        record([steps.action("suite.env", operation.where, False, "env evaluated", str(exc),
                             started)])
        outcome.fail(f"{operation.where}: {exc}")
        return {}
    command = dataclasses.replace(operation.command, env=env, keep_output=reads)
    call = commands.call(command, shell, operation.timeout, operation.kind)
    result = await gate.evaluate([call], ctx, 0)
    observation = result.finals[0]
    if not reads:
        record([observation])
        if not observation.passed:
            outcome.fail(steps.failed_command(operation.command, observation))
        return {}
    said = _result(observation)
    if operation.check is None:
        record([observation])
        if not observation.passed:
            outcome.fail(steps.failed_command(operation.command, observation))
    else:
        problem = await _check(operation.check, ctx, {**bindings, **said})
        # the check decides, not the exit code: the observation says what was checked
        record([dataclasses.replace(observation, passed=problem is None,
                                    expected=f"check: {operation.check}",
                                    observed=problem or f"check holds ({observation.observed})")])
        if problem is not None:
            outcome.fail(f"{operation.kind} check failed: {problem}")
    if not outcome.passed or not operation.outputs:
        return {}
    try:
        return await language.evaluated(ctx, {**bindings, **said},
                                        lambda scope: language.outputs(operation.outputs, None,
                                                                       scope),
                                        operation.outputs)
    except expressions.ExpressionError as exc:
        outcome.fail(f"{operation.where}: outputs: {exc}")
        return {}


def _result(observation: Observation) -> language.Bindings:
    """``$stdout``, ``$stderr`` and ``$error`` (null, or Go's words: exit status N)."""
    code = observation.data.get("exit_code")
    error = None if code == 0 else (f"exit status {code}" if code is not None
                                    else observation.observed)
    return {"stdout": observation.data.get("stdout", ""),
            "stderr": observation.data.get("stderr", ""), "error": error}


async def _check(check: Any, ctx: ProbeContext, bindings: language.Bindings) -> str | None:
    try:
        return await language.evaluated(ctx, bindings,
                                        lambda scope: assertion_tree.mismatch(check, None, scope),
                                        check)
    except expressions.ExpressionError as exc:
        return str(exc)
