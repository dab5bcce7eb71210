"""Chainsaw's step templates: a step that says ``use: {template: FILE, with: {bindings}}``
is the StepTemplate's ``try``, ``catch``, ``finally`` and ``cleanup``, with the template's
bindings and then the ``with`` bindings (which win, being later). Paths in the template
are the test folder's, as in Chainsaw. A ``file: ($binding)`` is resolved here from those
bindings when they are constants; otherwise it stays an expression, named at load."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.plan import yamltext
from phasegate.probes import expressions
from phasegate.suites import kuttl

PARTS = ("try", "catch", "finally", "cleanup")


def expand(file: Path, step: Any) -> Any:
    """The step a ``use`` stands for (a step without one, as it is)."""
    use = step.get("use") if isinstance(step, dict) else None
    if not isinstance(use, dict):
        return step
    path = file.parent / str(use.get("template") or "")
    if not path.is_file():
        raise PlanError(f"use: step template {use.get('template')} does not exist",
                        file=str(file))
    templates = [tree for tree in kuttl.documents(path) if isinstance(tree, dict)
                 and tree.get("kind") == "StepTemplate"]
    if len(templates) != 1:
        raise PlanError(f"use: {path} holds no StepTemplate", file=str(file))
    spec = templates[0].get("spec") or {}
    bindings = [*(spec.get("bindings") or []), *((use.get("with") or {}).get("bindings") or [])]
    expanded: dict[str, Any] = {key: value for key, value in step.items() if key != "use"}
    expanded["bindings"] = [*bindings, *(step.get("bindings") or [])]
    known = constants(bindings)
    for part in PARTS:
        if spec.get(part):
            expanded[part] = [_resolved(yamltext.plain(item), known)
                              for item in spec[part]]
    return expanded


def constants(bindings: list[Any]) -> expressions.Scope | None:
    """The bindings evaluated with nothing else bound, or None when they read more."""
    scope = expressions.Scope()
    try:
        for item in bindings:
            scope = scope.bound(str(expressions.value_of(item.get("name"), None, scope)),
                                expressions.template(yamltext.plain(item.get("value")), scope))
    except expressions.ExpressionError:
        return None
    return scope


def _resolved(item: Any, constants: expressions.Scope | None) -> Any:
    if constants is None or not isinstance(item, dict):
        return item
    for body in item.values():
        if isinstance(body, dict) and expressions.is_expression(body.get("file")):
            # one that cannot be resolved stays as written: named when its operation loads
            with contextlib.suppress(expressions.ExpressionError):
                body["file"] = str(expressions.value_of(body["file"], None, constants))
    return item
