"""Chainsaw's bindings and templating at run time. A test's bindings start from Chainsaw's
own (``$namespace``, ``$test``, ``$step``, ``$operation``, ``$client``, ``$config``), then
its ``bindings:`` in order (each may read those before), then its step's, then its
operation's; an operation's ``outputs`` bind for the rest of its step. Templating replaces
the ``(…)`` leaf values of a resource before it is applied; an assert's or error's tree
keeps its expressions, only the fields that find the objects (apiVersion, kind, name,
namespace, labels) are templated, as in Chainsaw."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from phasegate.probes import assertion_tree, expressions, k8s_expressions
from phasegate.probes.base import ProbeContext
from phasegate.probes.expressions import Scope
from phasegate.suites import model

Bindings = dict[str, Any]
T = TypeVar("T")
# what $client and $config stand for: the cluster functions read the suite's target
TARGET = {"cluster": "the suite's target"}
LOOKUP_FIELDS = ("name", "namespace", "labels")


def builtins(test: model.Test, namespace: str, values: model.Json | None = None
             ) -> Bindings:
    return {"namespace": namespace, "client": TARGET, "config": TARGET,
            "test": {"id": 1, "scenarioId": test.scenario, "metadata": {"name": test.name}},
            **({"values": values} if values is not None else {})}


async def evaluated(ctx: ProbeContext, bindings: Bindings, work: Callable[[Scope], T],
                    reads: Any) -> T:
    """``work`` run on a scope of ``bindings`` whose cluster functions read the target;
    ``reads``: the trees it evaluates."""
    done, _ = await k8s_expressions.evaluated(ctx, bindings, work, reads)
    return done


async def bind(ctx: ProbeContext, bindings: Bindings,
               pairs: tuple[tuple[Any, Any], ...]) -> Bindings:
    """``bindings:`` added in order; a name may itself be an expression."""
    if not pairs:
        return bindings

    return await evaluated(ctx, bindings, lambda scope: bound(scope, pairs).bindings, pairs)


def bound(scope: Scope, pairs: tuple[tuple[Any, Any], ...]) -> Scope:
    """``scope`` with ``pairs`` bound in order, each reading those before."""
    for name, value in pairs:
        scope = scope.bound(str(expressions.value_of(name, None, scope)),
                            expressions.template(value, scope))
    return scope


def resource(obj: model.Json, scope: Scope, kind: str) -> model.Json:
    """A resource templated for its operation: wholly for what is applied, only its lookup
    fields for an assert or error (the rest is the assertion tree's)."""
    if kind not in ("assert", "error", "delete"):
        templated = expressions.template(obj, scope)
        return templated if isinstance(templated, dict) else obj
    out = dict(obj)
    for key in ("apiVersion", "kind"):
        if key in out:
            out[key] = expressions.value_of(out[key], None, scope)
    if isinstance(out.get("metadata"), dict):
        meta = dict(out["metadata"])
        for key in LOOKUP_FIELDS:
            if key in meta:
                meta[key] = expressions.template(meta[key], scope)
        out["metadata"] = meta
    return out


def env(pairs: tuple[tuple[Any, Any], ...], scope: Scope) -> tuple[tuple[str, str], ...]:
    """A script's or command's env: names and values may be expressions."""
    found = []
    for name, value in pairs:
        said = expressions.value_of(value, None, scope)
        found.append((str(expressions.value_of(name, None, scope)),
                      said if isinstance(said, str) else json.dumps(said)))
    return tuple(found)


def used(tree: Any, bindings: Bindings) -> Bindings:
    """The bindings a tree reads: what an assert's gate is given (and records)."""
    return {name: bindings[name] for name in sorted(expressions.variables(tree))
            if name in bindings}


def outputs(outputs: tuple[tuple[Any, Any, Any], ...], current: Any,
             scope: Scope) -> Bindings:
    """An operation's ``outputs``, for the rest of its step (``match``: only when it holds
    on the object)."""
    found: Bindings = {}
    for name, value, match in outputs:
        if match is not None and assertion_tree.mismatch(match, current, scope) is not None:
            continue
        said = str(expressions.value_of(name, None, scope))
        found[said] = expressions.value_of(value, current, scope)
        scope = scope.bound(said, found[said])
    return found
