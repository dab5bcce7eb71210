"""Chainsaw's expression language: JMESPath (the ``jmespath`` library) with what Chainsaw's
JMESPath adds, namely ``$name`` bindings, ``+`` ``/`` ``%`` arithmetic, and Chainsaw's
functions. An expression is written ``(…)`` in a YAML value or key; ``\\(…)\\`` escapes it;
``(cel; …)`` is CEL (:mod:`cel_expressions`), and so is ``(…)`` where a ``compiler: cel``
says so (:func:`compiled_by`).

Functions reading the cluster (``x_k8s_get``, ``x_k8s_list``, ``x_k8s_exists``,
``x_k8s_server_version``) are answered by a :class:`Cluster` the caller gives: evaluation
is synchronous (JMESPath is), the caller bridges to its own I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jmespath import exceptions, lexer, parser, visitor

from phasegate.probes import cel_expressions, expression_functions
from phasegate.probes.expression_functions import Cluster as Cluster
from phasegate.probes.expression_functions import ExpressionError as ExpressionError

_Functions = expression_functions.ChainsawFunctions
_number = expression_functions.number
_whole = expression_functions.whole

# key or value syntax: ``~name.`` iterates, ``->name`` binds, ``(jp; …)`` names the engine
_ESCAPED = re.compile(r"^\\(.+)\\$", re.DOTALL)
_FOREACH = re.compile(r"^~(\w+)?\.(.*)$", re.DOTALL)
_BINDING = re.compile(r"^(.+)->(\w+)$", re.DOTALL)
_ENGINE = re.compile(r"^\((?:(\w+);)?(.+)\)$", re.DOTALL)
VARIABLE = re.compile(r"\$(\w+)")
ENGINES = ("jp", "cel")

# Chainsaw's (and Kyverno's) functions phasegate does not have: named at load, not guessed
UNSUPPORTED_FUNCTIONS = frozenset({
    "add", "subtract", "multiply", "divide", "modulo", "compare", "equal_fold", "replace",
    "replace_all", "trim", "trim_prefix", "split", "regex_replace_all",
    "regex_replace_all_literal", "regex_match", "pattern_match", "label_match", "truncate",
    "semver_compare", "parse_json", "parse_yaml", "lookup", "items", "object_from_lists",
    "random", "x509_decode", "time_since", "time_now", "time_now_utc", "time_add",
    "time_parse", "time_to_cron", "time_utc", "time_diff", "time_before", "time_after",
    "time_between", "time_truncate", "path_canonicalize", "sum", "x_k8s_resource_exists",
    "env", "as_string", "at", "concat", "wildcard", "to_boolean"})


@dataclass(frozen=True)
class Expression:
    """A key or value of an assertion tree, parsed as Chainsaw parses it."""

    statement: str
    engine: str = ""  # "jp" (JMESPath) when the text was ``(…)``; "" for a plain name
    foreach: bool = False
    foreach_name: str = ""
    binding: str = ""
    explicit: bool = False  # the engine was named: ``(jp; …)``, ``(cel; …)``

    def written(self, engine: str) -> str:
        """The text of this expression with ``engine`` named."""
        prefix = f"~{self.foreach_name}." if self.foreach else ""
        suffix = f"->{self.binding}" if self.binding else ""
        return f"{prefix}({engine};{self.statement}){suffix}"


def parse(text: str) -> Expression:
    """``(expr)``, ``~name.(expr)``, ``(expr)->name``, ``name`` or ``\\(literal)\\``."""
    escaped = _ESCAPED.match(text)
    if escaped:
        return Expression(escaped.group(1))
    expression = Expression(text)
    found = _FOREACH.match(text)
    if found:
        expression = Expression(found.group(2), foreach=True, foreach_name=found.group(1) or "")
    found = _BINDING.match(expression.statement)
    if found:
        expression = Expression(found.group(1), foreach=expression.foreach,
                                foreach_name=expression.foreach_name, binding=found.group(2))
    found = _ENGINE.match(expression.statement)
    if found:
        return Expression(found.group(2), engine=found.group(1) or "jp",
                          foreach=expression.foreach, foreach_name=expression.foreach_name,
                          binding=expression.binding, explicit=found.group(1) is not None)
    return expression


def compiled_by(tree: Any, compiler: str) -> Any:
    """``tree`` with every ``(…)`` that names no engine given ``compiler``'s (Chainsaw's
    ``compiler:`` field, on a test, step, operation or binding); JMESPath is the default."""
    if compiler in ("", "jp"):
        return tree
    if isinstance(tree, dict):
        return {compiled_by(key, compiler): compiled_by(value, compiler)
                for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(compiled_by(item, compiler) for item in tree)
    if isinstance(tree, str) and not _ESCAPED.match(tree):
        parsed = parse(tree)
        if parsed.engine and not parsed.explicit:
            return parsed.written(compiler)
    return tree


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and bool(parse(value).engine)


@dataclass
class Scope:
    """The bindings an expression sees (``$namespace`` is ``bindings["namespace"]``) and
    the cluster its functions read."""

    bindings: dict[str, Any] = field(default_factory=dict)
    cluster: Cluster = field(default_factory=Cluster)

    def bound(self, name: str, value: Any) -> Scope:
        return Scope({**self.bindings, name: value}, self.cluster)


def evaluate(statement: str, current: Any, scope: Scope, engine: str = "jp") -> Any:
    """The value of a JMESPath statement on ``current`` (``@``), in ``scope``."""
    if engine == "cel":
        return cel_expressions.evaluate(statement, current, scope.bindings)
    try:
        tree = _Parser().parse(statement).parsed
        return _Interpreter(scope).visit(tree, current)
    except exceptions.JMESPathError as exc:
        raise ExpressionError(f"({statement}): {exc}".replace("\n", " ")) from None
    except ExpressionError as exc:
        raise ExpressionError(f"({statement}): {exc}") from None


def value_of(value: Any, current: Any, scope: Scope) -> Any:
    """A value that is an expression, evaluated; any other value as it is (an escaped
    ``\\(…)\\`` loses its escape)."""
    if not isinstance(value, str):
        return value
    parsed = parse(value)
    if parsed.engine in ENGINES:
        return evaluate(parsed.statement, current, scope, parsed.engine)
    if parsed.engine:
        raise ExpressionError(f"{value}: the {parsed.engine} engine is not supported")
    return parsed.statement


def template(tree: Any, scope: Scope, *, keys: bool = False) -> Any:
    """Chainsaw's templating: every leaf value that is an expression replaced by its value
    (``keys``: expression keys too, as binding names and bindings' mappings are)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            name = value_of(key, None, scope) if keys else key
            out[str(name)] = template(value, scope, keys=keys)
        return out
    if isinstance(tree, list):
        return [template(item, scope, keys=keys) for item in tree]
    return value_of(tree, None, scope)


def problems(tree: Any) -> Iterator[str]:
    """What in a tree phasegate cannot evaluate: a statement that does not parse, another
    engine than JMESPath or CEL, a function it does not have."""
    for text in _texts(tree):
        parsed = parse(text)
        if not parsed.engine:
            continue
        if parsed.engine == "cel":
            said = cel_expressions.problem(parsed.statement)
            if said:
                yield f"{text}: {said}"
            continue
        if parsed.engine != "jp":
            yield f"{text}: the {parsed.engine} engine is not supported"
            continue
        try:
            tree_ = _Parser().parse(parsed.statement).parsed
        except exceptions.JMESPathError as exc:
            yield f"{text}: {exc}".replace("\n", " ")
            continue
        for name in dict.fromkeys(_functions_named(tree_)):  # each once
            if name not in _Functions.FUNCTION_TABLE:
                yield f"{text}: function {name} is not supported"


def reads_cluster(tree: Any) -> bool:
    """Whether a tree's expressions call a function that reads the cluster."""
    return any("x_k8s_" in text for text in _texts(tree))


def variables(tree: Any) -> set[str]:
    """The binding names a tree's expressions read (``$name``, CEL's
    ``bindings.resolve("name")``)."""
    return {name for text in _texts(tree)
            for pattern in (VARIABLE, cel_expressions.RESOLVED) for name in pattern.findall(text)}


def _texts(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield str(key)
            yield from _texts(value)
    elif isinstance(tree, list | tuple):
        for item in tree:
            yield from _texts(item)
    elif isinstance(tree, str):
        yield tree


def _functions_named(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "function_expression":
            yield str(node.get("value"))
        for child in node.get("children") or ():
            yield from _functions_named(child)


# --- the dialect: $bindings and arithmetic on top of the jmespath library ------------------

class _Lexer(lexer.Lexer):  # type: ignore[misc]
    START_IDENTIFIER: ClassVar[set[str]] = {*lexer.Lexer.START_IDENTIFIER, "$"}
    SIMPLE_TOKENS: ClassVar[dict[str, str]] = {
        **lexer.Lexer.SIMPLE_TOKENS, "+": "plus", "/": "divide", "%": "modulo"}


class _Parser(parser.Parser):  # type: ignore[misc]
    # arithmetic binds tighter than comparisons and stops a projection, as in Chainsaw's
    BINDING_POWER: ClassVar[dict[str, int]] = {
        **parser.Parser.BINDING_POWER, "plus": 7, "divide": 8, "modulo": 8}
    _CACHE: ClassVar[dict[str, Any]] = {}

    def _parse(self, expression: str) -> Any:
        self.tokenizer = _Lexer().tokenize(expression)
        self._tokens = list(self.tokenizer)
        self._index = 0
        parsed = self._expression(binding_power=0)
        if self._current_token() != "eof":
            token = self._lookahead_token(0)
            raise exceptions.ParseError(token["start"], token["value"], token["type"],
                                        f"Unexpected token: {token['value']}")
        return parser.ParsedResult(expression, parsed)

    def _token_nud_unquoted_identifier(self, token: dict[str, Any]) -> Any:
        if str(token["value"]).startswith("$"):
            return {"type": "variable", "value": token["value"][1:], "children": []}
        return super()._token_nud_unquoted_identifier(token)

    def _arithmetic(self, left: Any, operation: str) -> Any:
        right = self._expression(self.BINDING_POWER[operation])
        return {"type": "arithmetic", "value": operation, "children": [left, right]}

    def _token_led_plus(self, left: Any) -> Any:
        return self._arithmetic(left, "plus")

    def _token_led_divide(self, left: Any) -> Any:
        return self._arithmetic(left, "divide")

    def _token_led_modulo(self, left: Any) -> Any:
        return self._arithmetic(left, "modulo")


class _Interpreter(visitor.TreeInterpreter):  # type: ignore[misc]
    def __init__(self, scope: Scope) -> None:
        super().__init__(visitor.Options(custom_functions=_Functions(scope.cluster)))
        self._scope = scope

    def visit_variable(self, node: dict[str, Any], value: Any) -> Any:
        name = str(node["value"])
        if name not in self._scope.bindings:
            raise ExpressionError(f"variable not defined: ${name}")
        return self._scope.bindings[name]

    # Chainsaw evaluates bindings and templates with no current node, and its lists of
    # bindings (``[$a, $b]``) still make a list there: JMESPath's own would make null
    def visit_multi_select_list(self, node: dict[str, Any], value: Any) -> Any:
        return [self.visit(child, value) for child in node["children"]]

    def visit_multi_select_dict(self, node: dict[str, Any], value: Any) -> Any:
        return {child["value"]: self.visit(child, value) for child in node["children"]}

    def visit_arithmetic(self, node: dict[str, Any], value: Any) -> Any:
        left, right = (self.visit(child, value) for child in node["children"])
        if not (_number(left) and _number(right)):
            raise ExpressionError(f"{node['value']}: expected numbers, found {left!r} and "
                                  f"{right!r}")
        if node["value"] == "plus":
            return _whole(left + right)
        if right == 0:
            raise ExpressionError(f"{node['value']} by zero")
        return _whole(left / right if node["value"] == "divide" else math.fmod(left, right))
