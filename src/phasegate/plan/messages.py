"""Pydantic's validation errors, said the way a plan author needs to hear them."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel


def describe(error: Any) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return f"unknown field '{loc[-1]}'"
    if kind == "missing":
        return f"missing required field '{loc[-1]}'"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    shown = error.get("input")
    if isinstance(shown, str | int | float | bool) and kind != "literal_error":
        text = repr(shown)
        message += f" (got {text if len(text) < 60 else text[:57] + '...'})"
    elif kind == "literal_error":
        message += f" (got {shown!r})"
    return message


def field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def suggest_field(model: type[BaseModel], wrong: str) -> str | None:
    return suggest(wrong, field_names(model))


def suggest(wrong: str, names: list[str]) -> str | None:
    """The one name a typo most likely meant, if any is close enough."""
    matches = difflib.get_close_matches(wrong, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def pick(errors: list[Any], document: Any) -> tuple[tuple[Any, ...], Any, int]:
    """The most specific error (deepest location), its clean location, and how many others.

    Errors of one union field's branches count as one problem.
    """
    candidates = [(clean_loc(document, e["loc"], e["type"]), e) for e in errors]
    loc, error = max(candidates, key=lambda pair: len(pair[0]))
    places = {loc for loc, _ in candidates}
    return loc, error, len(places) - 1


def clean_loc(document: Any, loc: tuple[Any, ...], kind: str) -> tuple[Any, ...]:
    """Drop pydantic's union-branch tags (``list[str]``, ``literal[...]``) from a location."""
    cleaned: list[Any] = []
    node = document
    for index, step in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict) and isinstance(step, str) and (
            step in node or (last and kind in ("missing", "extra_forbidden"))
        ):
            cleaned.append(step)
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int):
            cleaned.append(step)
            node = node[step] if 0 <= step < len(node) else None
    return tuple(cleaned)
