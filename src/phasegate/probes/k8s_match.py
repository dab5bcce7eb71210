"""``k8s.match``: an object matching a partial manifest exists (or, ``absent``, none does),
by watch. kuttl's asserts and errors files are exactly this; plans can use it too."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from pydantic import Field, model_validator

from phasegate import probe_input
from phasegate.errors import ProbeError
from phasegate.kube import connections, objects, waiting
from phasegate.kube.client import Json, KubeClient, Resource
from phasegate.observation import Verdict
from phasegate.probes import assertion_tree, expressions, k8s_expressions, subset
from phasegate.probes.base import ProbeContext
from phasegate.probes.k8s_common import cluster_probe

DIFF_LINES = 80


class MatchParams(probe_input.ProbeParams):
    object: dict[str, Any] = Field(
        description="a partial manifest (apiVersion, kind, metadata.name or labels, any "
        "fields): an object must hold every field given; a list must match whole, in order")
    absent: bool = Field(False, description="pass when no object matches (an errors file)")
    namespace: str | None = Field(None, description="default: the object's, then the target's")
    bindings: dict[str, Any] | None = Field(
        None, description="given: the object is a Chainsaw assertion tree, its keys and "
        "values may be JMESPath expressions `(…)` reading these bindings (`$name`); without "
        "a kind, the tree is asserted on nothing (a non-resource assertion)")

    @model_validator(mode="after")
    def _kind_given(self) -> MatchParams:
        kind = self.object.get("kind")
        if (not isinstance(kind, str) or not kind) and self.bindings is None:
            raise ValueError("the object needs a kind")
        if not isinstance(self.object.get("metadata", {}), dict):
            raise ValueError("metadata must be a mapping")
        return self

    def describe(self) -> str:
        if not self.object.get("kind"):
            return f"{'not ' if self.absent else ''}the assertion tree as given"
        meta = self.object.get("metadata") or {}
        named = _plain(meta.get("name")) or _selector(meta) or "any"
        return f"{'no ' if self.absent else ''}{self.object['kind']} {named} as given"


async def check(params: MatchParams, ctx: ProbeContext) -> Verdict:
    if params.bindings is not None and not params.object.get("kind"):
        return await _tree_alone(params, ctx)
    expected = params.object
    meta: dict[str, Any] = expected.get("metadata") or {}
    name = _plain(meta.get("name"))
    wanted = ("no object matching" if params.absent else "an object matching") + (
        f" {expected['kind']} {name or _selector(meta) or '(any name)'}")
    client = connections.client_for(ctx)
    resource = await _resource(client, expected)
    if resource is None:
        served = f"{expected.get('apiVersion', '')}/{expected['kind']}".lstrip("/")
        # a CRD applied a moment ago is served soon: wait, as for a missing object
        return Verdict(params.absent, wanted, f"{served} is not served (yet)")
    namespace = None
    if resource.namespaced:
        namespace = _plain(meta.get("namespace")) or connections.namespace_of(
            ctx, params.namespace)
    listing = await objects.list_objects(
        client, resource, namespace, name=name,
        label_selector=None if name else _selector(meta) or None, memo=ctx.memo())
    data: dict[str, Any] = {"watch": [listing.watch]}
    # a list's items carry no apiVersion and kind; the object read alone does
    items = [{"apiVersion": resource.api_version, "kind": resource.kind, **item}
             for item in listing.items]
    secret = expected["kind"] == "Secret"
    if params.bindings is None:
        differences = [(item, subset.mismatch(expected, item, secret=secret)) for item in items]
    else:
        try:
            differences, watch = await k8s_expressions.evaluated(
                ctx, params.bindings, lambda scope: _tree_mismatches(expected, items, scope),
                expected)
        except expressions.ExpressionError as exc:
            return Verdict(params.absent and not items, wanted, f"expression failed: {exc}",
                           data=data)
        data["watch"] += watch
    matched = [item for item, problem in differences if problem is None]
    data["seen"] = [{"ref": objects.ref(item), "mismatch": problem,
                     "resourceVersion": item.get("metadata", {}).get("resourceVersion")}
                    for item, problem in differences]
    if params.absent:
        if not matched:
            return Verdict(True, wanted, _none_matched(differences, items), data=data)
        data["matched"] = [_shown(expected, item) for item in matched[:3]]
        return Verdict(False, wanted, f"{objects.ref(matched[0])} matches"
                       + (f" (and {len(matched) - 1} more)" if len(matched) > 1 else ""),
                       detail=_yaml(data["matched"][0]), data=data)
    if matched:
        data["matched"] = _shown(expected, matched[0])
        return Verdict(True, wanted, f"{objects.ref(matched[0])} matches", data=data)
    detail = _diff(expected, differences[0][0]) if differences else ""
    return Verdict(False, wanted, _none_matched(differences, items), detail=detail,
                   data=data)


def _tree_mismatches(expected: Json, items: list[Json], scope: expressions.Scope
                     ) -> list[tuple[Json, str | None]]:
    found = [(item, assertion_tree.mismatch(expected, item, scope)) for item in items]
    if expected.get("kind") != "Secret":
        return found
    # a Secret's values are never said: where it differs is enough
    return [(item, problem.split(":")[0] + f": a different value {subset.REDACTED}"
             if problem and problem.split(".")[0] in subset.SECRET_FIELDS
             and not problem.endswith(": missing") else problem)
            for item, problem in found]


async def _tree_alone(params: MatchParams, ctx: ProbeContext) -> Verdict:
    """A Chainsaw assertion tree with no resource: asserted on nothing, its expressions
    reading bindings and (x_k8s_list…) the cluster, which the gate then watches."""
    wanted = ("the tree not to hold" if params.absent else "the tree to hold")
    try:
        problem, watch = await k8s_expressions.evaluated(
            ctx, params.bindings or {},
            lambda scope: assertion_tree.mismatch(params.object, None, scope), params.object)
    except expressions.ExpressionError as exc:
        return Verdict(False, wanted, f"expression failed: {exc}")
    data: dict[str, Any] = {"watch": watch, "mismatch": problem}
    if params.absent:
        return Verdict(problem is not None, wanted, problem or "the tree holds", data=data)
    return Verdict(problem is None, wanted, problem or "the tree holds", data=data)


def _plain(value: Any) -> str | None:
    """A lookup field (name, namespace, label) as given, unless it is an expression, which
    the assertion tree checks instead."""
    if value is None or expressions.is_expression(value):
        return None
    return str(value)


async def _resource(client: KubeClient, expected: Json) -> Resource | None:
    for attempt in range(2):
        try:
            return await client.find_kind(expected["kind"], expected.get("apiVersion"))
        except ProbeError:
            if attempt == 0:
                client.forget_discovery()  # a CRD installed since discovery was asked
    return None


def _none_matched(differences: list[tuple[Json, str | None]], items: list[Json]) -> str:
    if not items:
        return "not found"
    item, problem = differences[0]
    more = f"; {len(items) - 1} more differ" if len(items) > 1 else ""
    return f"{objects.ref(item)} differs: {problem}{more}"


def _selector(meta: dict[str, Any]) -> str:
    labels = meta.get("labels") or {}
    # only labels given as plain text select; expressions are the assertion tree's to check
    return ",".join(f"{key}={value}" for key, value in labels.items()
                    if isinstance(value, str) and not expressions.is_expression(value)
                    and not expressions.is_expression(str(key))) if isinstance(
        labels, dict) else ""


def _shown(expected: Json, actual: Json) -> Any:
    return subset.redact_secret(subset.shaped(expected, actual))


def _diff(expected: Json, actual: Json) -> str:
    """Expected against actual, actual cut to the fields expected names (kuttl's diff)."""
    want = _yaml(subset.redact_secret(expected)).splitlines()
    have = _yaml(_shown(expected, actual)).splitlines()
    lines = list(difflib.unified_diff(want, have, "expected", "actual", lineterm=""))
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"… {len(lines) - DIFF_LINES} more lines"]
    return "\n".join(lines)


def _yaml(value: Any) -> str:
    return str(yaml.safe_dump(value, sort_keys=False, default_flow_style=False))


PROBES = [
    cluster_probe("k8s.match", MatchParams, check,
                  "an object holding the fields of a partial manifest exists (or none does)",
                  wait=waiting.wait, default_interval=1.0),
]
