"""YAML text with positions: parsing that keeps line/column, and turning paths into places."""

from __future__ import annotations

import warnings
from typing import Any

from phasegate.errors import PlanError


def parse(text: str, filename: str) -> Any:
    """Round-trip parse (positions kept); YAML errors become PlanErrors at their mark."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reused anchors are legal YAML; say nothing
            return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise PlanError(
            f"YAML syntax error: {problem}",
            file=filename,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except YAMLError as exc:
        raise PlanError(f"YAML error: {_one_line(str(exc))}", file=filename) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def plain(node: Any) -> Any:
    """Round-trip containers → plain dicts and lists (keys as strings)."""
    if isinstance(node, dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node


def locate(root: Any, path: tuple[Any, ...], *, at_key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of ``path`` in a round-trip tree: the value, or its key."""
    node = root
    position = _own_position(root)
    for index, step in enumerate(path):
        last = index == len(path) - 1
        lc = getattr(node, "lc", None)
        if isinstance(node, dict) and step in node:
            if lc is not None:
                line, column = lc.key(step) if (at_key and last) else lc.value(step)
                position = (line + 1, column + 1)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            if lc is not None:
                line, column = lc.item(step)
                position = (line + 1, column + 1)
            node = node[step]
        else:
            break
    return position


def _own_position(node: Any) -> tuple[int, int] | None:
    lc = getattr(node, "lc", None)
    if lc is None or getattr(lc, "line", None) is None:
        return None
    return (lc.line + 1, lc.col + 1)


def render_path(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += ("." if text else "") + str(step)
    return text
