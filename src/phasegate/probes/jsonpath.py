"""A small JSON path: ``$.items[0].status.phase``. Enough for "field equals value" checks."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(-?\d+)\]|\[\"([^\"]+)\"\]|\['([^']+)'\]")

MISSING = object()


def parse(path: str) -> list[str | int]:
    text = path[1:] if path.startswith("$") else path
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"bad JSON path {path!r} at position {pos}")
        name, index, dq, sq = match.groups()
        steps.append(int(index) if index is not None else (name or dq or sq))
        pos = match.end()
    return steps


def lookup(document: Any, path: str) -> Any:
    """The value at ``path``, or :data:`MISSING`."""
    current = document
    for step in parse(path):
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return MISSING
            current = current[step]
        elif isinstance(current, dict) and step in current:
            current = current[step]
        else:
            return MISSING
    return current
