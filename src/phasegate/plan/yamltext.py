"""YAML text with positions: parsing that keeps line/column, and turning paths into places."""

from __future__ import annotations

import warnings
from typing import Any

from phasegate.errors import PlanError

MAX_EXPANDED = 1_000_000  # values once aliases are copied out; a 10,000-probe plan has ~100,000
ALIAS_RATIO = 10  # ... and any document may grow this many times through its aliases


def parse(text: str, filename: str) -> Any:
    """Parse with positions kept; YAML errors become PlanErrors at their mark.

    libyaml (see yamltree) reads almost every document, fast. What it refuses goes to ruamel's
    round-trip parser, which decided before: it accepts a few YAML 1.2 forms libyaml does not
    (``[${input.x}]``), and where both refuse, its message is the one users have known."""
    import yaml

    from phasegate.plan import yamltree

    try:
        tree = yamltree.build(text)
    except (yaml.YAMLError, yamltree.TreeError):
        tree = _parse_ruamel(text, filename)
    if "*" in text:  # no alias without a '*': most plans skip the measuring
        refuse_alias_bombs(tree, filename)
    return tree


def _parse_ruamel(text: str, filename: str) -> Any:
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


def refuse_alias_bombs(tree: Any, filename: str) -> None:
    """Aliases are shared while parsed, but everything downstream (inputs, validation,
    the store) copies them out: nine levels of nine aliases would become 387 million
    strings. Refuse a document whose aliases multiply it beyond a sane size."""
    written, sizes = _sizes(tree)
    expanded = sizes.get(id(tree), 1)
    if expanded <= max(MAX_EXPANDED, ALIAS_RATIO * written):
        return
    anchored = [node for node in _containers(tree) if _anchor(node)]
    message = (f"YAML aliases expand this document to {expanded:,} values from {written:,} "
               f"written (more than {MAX_EXPANDED:,}); refusing to expand it")
    place = None
    if anchored:
        largest = max(anchored, key=lambda node: sizes[id(node)])
        message += f": anchor &{_anchor(largest)} alone expands to {sizes[id(largest)]:,}"
        place = _own_position(largest)
    raise PlanError(message, file=filename, line=place[0] if place else None,
                    column=place[1] if place else None)


def _sizes(tree: Any) -> tuple[int, dict[int, int]]:
    """Values as written, and each container's size once every alias is copied out.
    Iterative and each container visited once: the bomb is never expanded to be measured."""
    sizes: dict[int, int] = {}
    written = 0
    stack: list[tuple[Any, list[Any] | None]] = [(tree, None)]
    on_path: set[int] = set()
    while stack:
        node, children = stack.pop()
        key = id(node)
        if children is not None:  # every child measured: measure the node
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in children)
            continue
        if key in sizes or key in on_path:
            continue  # shared (an alias), or recursive: the loader names recursion itself
        on_path.add(key)
        children = _children(node)
        nested = [child for child in children if isinstance(child, dict | list)]
        written += 1 + len(children) - len(nested)
        stack.append((node, children))
        stack.extend((child, None) for child in nested)
    return written, sizes


def _containers(tree: Any) -> list[Any]:
    seen: dict[int, Any] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list) and id(node) not in seen:
            seen[id(node)] = node
            stack.extend(_children(node))
    return list(seen.values())


def _children(node: Any) -> list[Any]:
    # dict's and list's own iterators: ruamel's views re-enter Python per item (10x slower)
    if isinstance(node, dict):
        return [*dict.keys(node), *dict.values(node)]
    return list(list.__iter__(node)) if isinstance(node, list) else []


def _anchor(node: Any) -> str | None:
    value = getattr(getattr(node, "anchor", None), "value", None)
    return str(value) if value is not None else None


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


def located(
    message: str,
    tree: Any,
    path: tuple[Any, ...],
    filename: str,
    suggestion: str | None = None,
    *,
    at_key: bool = False,
    shown_path: tuple[Any, ...] | None = None,
) -> PlanError:
    """A PlanError at ``path``'s place in ``tree`` (file:line:column), naming the path."""
    place = locate(tree, path, at_key=at_key)
    shown = path if shown_path is None else shown_path
    return PlanError(
        message,
        file=filename,
        line=place[0] if place else None,
        column=place[1] if place else None,
        path=render_path(shown) or None,
        suggestion=suggestion,
    )


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

