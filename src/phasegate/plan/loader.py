"""Loading a plan: text → located errors or a validated :class:`Plan`.

Every failure is a :class:`PlanError` naming file, line, column, the path in the document
and what was expected — never a traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.plan import inputs as plan_inputs
from phasegate.plan import messages, probe_call, yamltext
from phasegate.plan.model import PROBE_LISTS, Plan, model_at

_EXAMPLE = "a plan starts with 'apiVersion: phasegate/v1' and 'kind: Plan'"


def load_plan(path: str | Path, inputs: dict[str, Any] | None = None) -> Plan:
    """Read and validate the plan at ``path``; relative paths in it resolve against its folder."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError("plan file not found", file=str(path)) from None
    except IsADirectoryError:
        raise PlanError("is a directory, not a plan file", file=str(path)) from None
    except OSError as exc:
        raise PlanError(f"cannot read plan file: {exc.strerror}", file=str(path)) from None
    if b"\0" in raw:
        raise PlanError(f"is a binary file, not YAML; {_EXAMPLE}", file=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"is not UTF-8 text (byte {exc.start} cannot be decoded); {_EXAMPLE}", file=str(path)
        ) from None
    return loads_plan(text, filename=str(path), inputs=inputs, source=path)


def loads_plan(
    text: str,
    filename: str = "<plan>",
    inputs: dict[str, Any] | None = None,
    source: Path | None = None,
) -> Plan:
    """Validate plan ``text``; ``filename`` is only used to name the place of errors."""
    if not text.strip():
        raise PlanError(f"the file is empty; {_EXAMPLE}", file=filename)
    tree = yamltext.parse(text, filename)
    if not isinstance(tree, dict):
        shown = "nothing" if tree is None else f"a {_kind_of(tree)}"
        raise PlanError(f"expected a mapping at the top, found {shown}; {_EXAMPLE}", file=filename,
                        line=1, column=1)
    try:
        document = _substitute(tree, tree, (), inputs or {}, filename)
        content_hash = hashlib.sha256(
            json.dumps(document, sort_keys=True, default=str).encode()
        ).hexdigest()
        _build_probe_calls(tree, document, filename)
        plan = _validate(tree, document, filename)
    except RecursionError:
        raise PlanError("the document nests too deeply (a recursive YAML alias?)",
                        file=filename) from None
    plan._source = source.resolve() if source else None
    plan._content_hash = content_hash
    plan._inputs = dict(inputs or {})
    return plan


def _kind_of(value: object) -> str:
    for kind, name in ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string"),
                       (list, "list")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _substitute(
    root: Any, node: Any, path: tuple[Any, ...], values: dict[str, Any], filename: str
) -> Any:
    try:
        return _walk(node, values)
    except _Missing as exc:
        where = (*path, *reversed(exc.steps))
        raise yamltext.located(str(exc.cause), root, where, filename) from None


class _Missing(Exception):
    """A missing input, collecting its path on the way up: building every node's path on
    the way down cost a tuple per node (90,000 on a 10,000-probe plan) for an error."""

    def __init__(self, cause: plan_inputs.MissingInput) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.steps: list[Any] = []


def _walk(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        done: dict[str, Any] = {}
        for key, value in node.items():
            try:
                done[str(key)] = _walk(value, values)
            except _Missing as exc:
                exc.steps.append(key)
                raise
        return done
    if isinstance(node, list):
        items = []
        for index, item in enumerate(node):
            try:
                items.append(_walk(item, values))
            except _Missing as exc:
                exc.steps.append(index)
                raise
        return items
    if isinstance(node, str):
        try:
            return plan_inputs.substitute(str(node), values)
        except plan_inputs.MissingInput as exc:
            raise _Missing(exc) from None
    return node


def _build_probe_calls(tree: Any, document: dict[str, Any], filename: str) -> None:
    """Replace each probe mapping with a ProbeCall, in place, so its errors keep their place."""
    for pattern in PROBE_LISTS:
        for list_path, probes in _find_lists(document, pattern, ()):
            for index, mapping in enumerate(probes):
                try:
                    probes[index] = probe_call.build(mapping)
                except probe_call.ProbeCallError as exc:
                    where = (*list_path, index, *exc.loc)
                    shown = where[:-1] if exc.at_key and len(exc.loc) == 1 else where
                    raise yamltext.located(str(exc), tree, where, filename, exc.suggestion,
                                   at_key=exc.at_key, shown_path=shown) from None


def _find_lists(
    node: Any, pattern: tuple[str, ...], path: tuple[Any, ...]
) -> list[tuple[tuple[Any, ...], list[Any]]]:
    if not pattern:
        return [(path, node)] if isinstance(node, list) else []
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        if not isinstance(node, list):
            return []
        found = []
        for index, item in enumerate(node):
            found.extend(_find_lists(item, rest, (*path, index)))
        return found
    if isinstance(node, dict) and head in node:
        return _find_lists(node[head], rest, (*path, head))
    return []


def _validate(tree: Any, document: dict[str, Any], filename: str) -> Plan:
    from pydantic import ValidationError

    try:
        return Plan.model_validate(document)
    except ValidationError as exc:
        loc, error, others = messages.pick(exc.errors(), document)
        suggestion = None
        if error["type"] == "extra_forbidden":
            model = model_at(loc[:-1])
            suggestion = messages.suggest_field(model, str(loc[-1])) if model else None
        message = messages.describe(error)
        if others:
            message += f" (and {others} more problem{'s' if others > 1 else ''})"
        at_key = error["type"] == "extra_forbidden"
        raise yamltext.located(message, tree, loc, filename, suggestion, at_key=at_key) from None

