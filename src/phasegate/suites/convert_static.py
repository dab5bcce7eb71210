"""What of a Chainsaw test's bindings and templates is known when it is converted: its
constants, and ``$namespace`` as the plan's namespace input. Everything is evaluated twice,
with two stand-ins for the namespace; a value is static when the two agree once each
stand-in is the input's placeholder (the namespace only ever copied in as text: a
``to_upper($namespace)`` or ``length($namespace)`` is not). A binding that is not static
(or that reads the cluster, or an operation's output) is known only when the test runs:
what reads it is not converted, and says why."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phasegate.probes import expressions
from phasegate.probes.expressions import Scope
from phasegate.suites import chainsaw_language as language
from phasegate.suites import model

NAMESPACE = "${input.namespace}"
STAND_INS = ("zzpgnsazz", "zzpgnsbzz")
# what the plan loader would read as its own placeholders, escaped to stay as written
_LOADER_SYNTAX = re.compile(r"\$\$\{|\$\{(?=input\.|env:)")


class NotStatic(Exception):
    """Why something cannot be written into a plan as it is."""


@dataclass(frozen=True)
class Static:
    scopes: tuple[Scope, Scope]
    unknown: dict[str, str] = field(default_factory=dict)  # binding → why it is not known

    @classmethod
    def of(cls, test: model.Test) -> Static:
        a, b = (Scope(language.builtins(test, stand_in)) for stand_in in STAND_INS)
        return cls((a, b))

    def bound(self, pairs: tuple[tuple[Any, Any], ...], extra: dict[str, Any]) -> Static:
        """These bindings added in order (after ``extra``, Chainsaw's own)."""
        a, b = (Scope({**scope.bindings, **extra}) for scope in self.scopes)
        unknown = dict(self.unknown)
        for name, value in pairs:
            try:
                _readable((name, value), unknown)
                key = str(expressions.value_of(name, None, a))
                seen = tuple(expressions.template(value, scope) for scope in (a, b))
                _agreeing(seen)
            except (expressions.ExpressionError, NotStatic) as exc:
                key = str(name)
                unknown[key] = f"binding {key}: {exc}"
                a, b = (Scope({k: v for k, v in s.bindings.items() if k != key}) for s in (a, b))
                continue
            a, b = a.bound(key, seen[0]), b.bound(key, seen[1])
            unknown.pop(key, None)
        return Static((a, b), unknown)

    def without(self, names: list[str], why: str) -> Static:
        """``names`` known only when the test runs (an operation's outputs)."""
        a, b = (Scope({k: v for k, v in s.bindings.items() if k not in names})
                for s in self.scopes)
        return Static((a, b), {**self.unknown, **dict.fromkeys(names, why)})

    def value(self, work: Callable[[Scope], Any], reads: Any) -> Any:
        """``work``'s result as the plan holds it, or NotStatic."""
        _readable(reads, self.unknown)
        try:
            return _agreeing(tuple(work(scope) for scope in self.scopes))
        except expressions.ExpressionError as exc:
            raise NotStatic(str(exc)) from None

    def used(self, tree: Any) -> dict[str, Any]:
        """The bindings ``tree`` reads, as the plan holds them."""
        _readable(tree, self.unknown)
        unbound = expressions.variables(tree) - set(self.scopes[0].bindings) - _own(tree)
        if unbound:
            raise NotStatic(f"${min(unbound)} is not bound")
        found: dict[str, Any] = placed(language.used(tree, self.scopes[0].bindings))
        return found


def _own(tree: Any) -> set[str]:
    """The names a tree binds itself: ``(expr)->name``, ``~name.(expr)``'s index."""
    if isinstance(tree, list):
        return {name for item in tree for name in _own(item)}
    if not isinstance(tree, dict):
        return set()
    found = set()
    for key, value in tree.items():
        parsed = expressions.parse(str(key))
        found |= {parsed.binding, parsed.foreach_name, *_own(value)} - {""}
    return found


def _readable(tree: Any, unknown: dict[str, str]) -> None:
    for problem in expressions.problems(tree):
        raise NotStatic(problem)
    for name in sorted(expressions.variables(tree)):
        if name in unknown:
            raise NotStatic(f"${name} is known only when the test runs ({unknown[name]})")


def _agreeing(seen: tuple[Any, ...]) -> Any:
    first, second = (placed(value, stand_in) for value, stand_in in zip(seen, STAND_INS,
                                                                        strict=True))
    if first != second:
        raise NotStatic("its value differs from one evaluation to the next (it reads the "
                        "time, or $namespace other than as text): known only when the test runs")
    return first


def placed(tree: Any, stand_in: str = STAND_INS[0]) -> Any:
    """``tree`` with the namespace's stand-in as the input's placeholder and what the loader
    would read as a placeholder escaped."""
    if isinstance(tree, dict):
        return {key: placed(value, stand_in) for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return [placed(item, stand_in) for item in tree]
    if isinstance(tree, str):
        return escaped(tree).replace(stand_in, NAMESPACE)
    return tree


def escaped(text: str) -> str:
    return _LOADER_SYNTAX.sub(lambda match: "$" + match.group(0), text)
