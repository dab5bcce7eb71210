"""Chainsaw's CEL engine: a ``(cel; …)`` statement, or any ``(…)`` under ``compiler: cel``,
evaluated by cel-python. The environment is Chainsaw's: ``object`` is the current value
(JMESPath's ``@``) and ``bindings.resolve("name")`` the value of a binding.

cel-python is imported on first use: building its grammar costs about 0.3 s, which a plan
or a suite without CEL never pays."""

from __future__ import annotations

import functools
import re
from typing import Any

from phasegate.probes.expression_functions import ExpressionError

# the bindings a statement reads: what an assert's gate is given and records
RESOLVED = re.compile(r"bindings\s*\.\s*resolve\(\s*[\"'](\w+)[\"']\s*\)")


def evaluate(statement: str, current: Any, bindings: dict[str, Any]) -> Any:
    """The value of a CEL statement on ``current`` (``object``), with ``bindings``."""
    from celpy.evaluation import CELEvalError

    program = _program(statement)
    try:
        result = program.evaluate({"object": _cel(current), "bindings": _Bindings(bindings)})
    except ExpressionError as exc:
        raise ExpressionError(f"(cel; {statement.strip()}): {exc}") from None
    except (CELEvalError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ExpressionError(f"(cel; {statement.strip()}): {_said(exc)}") from None
    if isinstance(result, CELEvalError):
        raise ExpressionError(f"(cel; {statement.strip()}): {_said(result)}")
    return plain(result)


def problem(statement: str) -> str | None:
    """Why a statement does not compile, or None when it does."""
    try:
        _program(statement)
    except ExpressionError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=1024)
def _program(statement: str) -> Any:
    from celpy.celparser import CELParseError

    try:
        ast = _environment().compile(statement)
    except CELParseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "does not parse"
        raise ExpressionError(f"does not parse: {first}") from None
    return _environment().program(ast, functions={"resolve": _resolve})


@functools.cache
def _environment() -> Any:
    import celpy

    return celpy.Environment()


class _Bindings:
    """What ``bindings`` is in a statement: only ``resolve`` reads it, converting the one
    value asked for."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values


def _resolve(bindings: Any, name: Any) -> Any:
    if not isinstance(bindings, _Bindings):
        raise ExpressionError("resolve() is a method of bindings")
    if str(name) not in bindings.values:
        raise ExpressionError(f"variable not defined: ${name}")
    return _cel(bindings.values[str(name)])


def _cel(value: Any) -> Any:
    from celpy.adapter import json_to_cel

    return json_to_cel(value)


def plain(value: Any) -> Any:
    """A CEL value as the JSON-like value the rest of phasegate compares."""
    from celpy import celtypes

    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.MapType):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, celtypes.ListType):
        return [plain(item) for item in value]
    if value is None or isinstance(value, celtypes.NullType):
        return None
    return str(value)


def _said(exc: Any) -> str:
    text = " ".join(str(part) for part in getattr(exc, "args", ()) if part) or str(exc)
    return text.replace("\n", " ")
