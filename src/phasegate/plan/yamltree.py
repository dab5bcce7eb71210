"""A YAML 1.2 tree with positions, built from libyaml's events (C) instead of ruamel's
round-trip parser (pure Python, about 40 times slower on a 10,000-probe plan).

libyaml only scans and parses; what a plain scalar *means* is still decided by ruamel's
YAML 1.2 resolver and constructor, so ``yes`` and ``1:20`` stay strings, ``0x1F`` is 31 and
every plan reads exactly as before. Containers are ``dict``/``list`` subclasses whose ``lc``
answers the same questions as ruamel's (``line``, ``col``, ``key()``, ``value()``,
``item()``), so locating errors does not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

MERGE = "tag:yaml.org,2002:merge"
STR = "tag:yaml.org,2002:str"


class TreeError(Exception):
    """A document libyaml parsed but that is not one plain tree; 0-based mark."""

    def __init__(self, problem: str, line: int, column: int) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column = problem, line, column


class Anchor:
    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


class Position:
    """0-based places of a container, its keys and values, as ruamel's ``lc`` gives them."""

    __slots__ = ("_keys", "_values", "col", "line")

    def __init__(self, line: int, col: int) -> None:
        self.line, self.col = line, col
        self._keys: dict[Any, tuple[int, int]] = {}
        self._values: dict[Any, tuple[int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        return self._keys[key]

    def value(self, key: Any) -> tuple[int, int]:
        return self._values[key]

    def item(self, index: int) -> tuple[int, int]:
        return self._values[index]


class Mapping(dict[Any, Any]):
    __slots__ = ("anchor", "lc")

    def __init__(self, line: int, col: int, anchor: str | None) -> None:
        super().__init__()
        self.lc = Position(line, col)
        self.anchor = Anchor(anchor) if anchor else None


class Sequence(list[Any]):
    __slots__ = ("anchor", "lc")

    def __init__(self, line: int, col: int, anchor: str | None) -> None:
        super().__init__()
        self.lc = Position(line, col)
        self.anchor = Anchor(anchor) if anchor else None


class _Scalars:
    """ruamel's resolver and constructor for scalars, with a cache: plans repeat values."""

    def __init__(self) -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.nodes import ScalarNode
        from ruamel.yaml.tag import Tag

        loader = YAML(typ="rt")
        self._resolver = loader.resolver
        self._constructor = loader.constructor
        self._node, self._tag = ScalarNode, Tag
        self._plain: dict[str, tuple[str, Any]] = {}

    def plain(self, value: str) -> tuple[str, Any]:
        """(tag, value) of an untagged plain scalar."""
        known = self._plain.get(value)
        if known is None:
            tag = self._resolver.resolve(self._node, value, (True, False))
            name = str(getattr(tag, "value", tag))
            built = value if name == STR else self._build(tag, value, None)
            known = self._plain[value] = (name, built)
        return known

    def tagged(self, tag: str, value: str, style: str | None) -> Any:
        return self._build(self._tag(suffix=tag), value, style)

    def _build(self, tag: Any, value: str, style: str | None) -> Any:
        return self._constructor.construct_object(self._node(tag, value, style=style), deep=True)


def build(text: str) -> Any:
    """The single document in ``text`` as positioned containers and plain scalars."""
    documents = list(_documents(text, single=True))
    return documents[0] if documents else None


def build_all(text: str) -> list[Any]:
    """Every document in ``text`` (a multi-document manifest file), each as :func:`build`
    gives it; an empty document is None."""
    return list(_documents(text, single=False))


def _documents(text: str, *, single: bool) -> Iterator[Any]:
    scalars = _Scalars()
    anchors: dict[str, Any] = {}
    stack: list[list[Any]] = []  # [container, pending key or _NO_KEY, merges, key mark]
    root: Any = None
    documents = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        kind = type(event)
        if kind is yaml.ScalarEvent:
            node = _scalar(scalars, event)
            if event.anchor:
                anchors[event.anchor] = node
        elif kind is yaml.AliasEvent:
            if event.anchor not in anchors:
                mark = event.start_mark
                raise TreeError(f"found undefined alias {event.anchor!r}", mark.line, mark.column)
            node = anchors[event.anchor]
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            mark = event.start_mark
            container: Any = (Mapping if kind is yaml.MappingStartEvent else Sequence)(
                mark.line, mark.column, event.anchor)
            if event.anchor:
                anchors[event.anchor] = container
            if stack:
                _add(stack, container, mark)
            stack.append([container, _NO_KEY, [], None])
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = stack.pop()
            _merge(frame[0], frame[2])
            if not stack:
                root = frame[0]
            continue
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1 and single:
                mark = event.start_mark
                raise TreeError("expected a single document in the stream, but found another "
                                "document", mark.line, mark.column)
            continue
        elif kind is yaml.DocumentEndEvent:
            yield root
            root, anchors = None, {}  # anchors belong to their document
            continue
        else:
            continue
        if stack:
            _add(stack, node, event.start_mark)
        else:
            root = node


_NO_KEY = object()


def _scalar(scalars: _Scalars, event: Any) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        if tag is None and event.implicit[0]:
            name, value = scalars.plain(event.value)
            return _MergeKey() if name == MERGE else value
        return event.value
    try:
        return scalars.tagged(tag, event.value, event.style or None)
    except Exception as exc:  # a !!int that is not one, bad !!binary: the constructor says why
        mark = event.start_mark
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise TreeError(str(problem), mark.line, mark.column) from None


class _MergeKey:
    """The ``<<`` key: its value is merged into the mapping, it is never a key itself."""

    __slots__ = ()


def _add(stack: list[list[Any]], node: Any, mark: Any) -> None:
    frame = stack[-1]
    container = frame[0]
    if isinstance(node, _MergeKey) and not (isinstance(container, Mapping)
                                            and frame[1] is _NO_KEY):
        node = "<<"  # a merge key is special only where a key stands
    if isinstance(container, Sequence):
        container.lc._values[len(container)] = (mark.line, mark.column)
        container.append(node)
        return
    if frame[1] is _NO_KEY:
        if isinstance(node, dict | list):
            raise TreeError("a mapping key must be a plain value, not a mapping or a list",
                            mark.line, mark.column)
        frame[1], frame[3] = node, (mark.line, mark.column)
        return
    key, frame[1] = frame[1], _NO_KEY
    if isinstance(key, _MergeKey):
        frame[2].append((node, mark))
        return
    try:
        duplicate = key in container
    except TypeError:  # an unhashable scalar, e.g. a tagged set
        raise TreeError("a mapping key must be a plain value", *frame[3]) from None
    if duplicate:
        raise TreeError(f'found duplicate key "{key}"', *frame[3])
    container[key] = node
    container.lc._keys[key] = frame[3]
    container.lc._values[key] = (mark.line, mark.column)


def _merge(container: Any, merges: list[tuple[Any, Any]]) -> None:
    """``<<: *base`` or ``<<: [*a, *b]``: keys written here win, then earlier sources."""
    for value, mark in merges:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                raise TreeError("a merge key (<<) takes a mapping or a list of mappings",
                                mark.line, mark.column)
            for key, item in source.items():
                if key not in container:
                    container[key] = item
                    lc = getattr(source, "lc", None)
                    if lc is not None:
                        container.lc._keys[key] = lc._keys.get(key, (mark.line, mark.column))
                        container.lc._values[key] = lc._values.get(key, (mark.line, mark.column))
