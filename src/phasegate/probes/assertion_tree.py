"""Chainsaw's assertion trees (kyverno-json's): a mapping's keys select what to compare,
by name or by an expression ``(expr)`` (JMESPath, or CEL) evaluated on the current node; ``~.`` and
``~name.`` iterate over the array (or mapping) selected, binding the index (or key) to
``$name``; ``->name`` binds what was selected for the subtree; a value ``(expr)`` is
evaluated on the current node and compared with it. Lists match lists of the same length,
item by item; other values are equal (numbers by value)."""

from __future__ import annotations

from typing import Any

from phasegate.probes import expressions
from phasegate.probes.expressions import Scope


def mismatch(expected: Any, actual: Any, scope: Scope, path: str = "") -> str | None:
    """Where and how ``actual`` fails the tree ``expected``, or None when it holds.
    An expression that cannot be evaluated raises :class:`expressions.ExpressionError`."""
    where = path or "."
    if isinstance(expected, dict):
        for key, subtree in expected.items():
            parsed = expressions.parse(str(key))
            inner = f"{path}.{key}" if path else str(key)
            if parsed.engine in expressions.ENGINES:
                selected = expressions.evaluate(parsed.statement, actual, scope, parsed.engine)
            elif parsed.engine:
                raise expressions.ExpressionError(
                    f"{key}: the {parsed.engine} engine is not supported")
            elif not isinstance(actual, dict):
                return f"{where}: expected a mapping, found {_kind(actual)}"
            elif parsed.statement in actual:
                selected = actual[parsed.statement]
            else:
                return f"{inner}: missing"
            inner_scope = scope.bound(parsed.binding, selected) if parsed.binding else scope
            if parsed.binding:
                scope = inner_scope  # later keys see it too, as kyverno-json's do
            found = (_each(subtree, selected, inner_scope, inner, parsed.foreach_name)
                     if parsed.foreach else mismatch(subtree, selected, inner_scope, inner))
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, found {_kind(actual)}"
        if len(expected) != len(actual):
            return f"{where}: expected {len(expected)} items, found {len(actual)}"
        for index, (want, have) in enumerate(zip(expected, actual, strict=True)):
            found = mismatch(want, have, scope, f"{path}[{index}]")
            if found:
                return found
        return None
    wanted = expressions.value_of(expected, actual, scope)
    if not equal(wanted, actual):
        shown = f"{expected} = {wanted!r}" if wanted is not expected else repr(expected)
        return f"{where}: expected {shown}, found {actual!r}"
    return None


def _each(subtree: Any, selected: Any, scope: Scope, path: str, name: str) -> str | None:
    """``~name.``: the subtree holds for every item (or every mapping value)."""
    if isinstance(selected, list):
        pairs: list[tuple[Any, Any]] = list(enumerate(selected))
    elif isinstance(selected, dict):
        pairs = list(selected.items())
    else:
        return f"{path}: expected a list or a mapping to iterate over, found {_kind(selected)}"
    for index, item in pairs:
        found = mismatch(subtree, item, scope.bound(name, index) if name else scope,
                         f"{path}[{index}]")
        if found:
            return found
    return None


def equal(expected: Any, actual: Any) -> bool:
    """Equal as kyverno-json compares: numbers by value, a bool only with a bool, mappings
    and lists item by item."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            equal(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            equal(a, b) for a, b in zip(expected, actual, strict=True))
    return type(expected) is type(actual) and bool(expected == actual)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
