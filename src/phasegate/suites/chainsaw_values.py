"""Chainsaw's ``--values``: YAML files (``-``: standard input) whose mappings, merged in
order (a later file's keys win, nested mappings merged), are what tests read as
``$values``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.plan import yamltext
from phasegate.suites import model


def read(files: list[str]) -> model.Json:
    merged: model.Json = {}
    for name in files:
        text = sys.stdin.read() if name == "-" else _text(name)
        shown = "standard input" if name == "-" else name
        tree = yamltext.plain(yamltext.parse(text, shown)) if text.strip() else {}
        if not isinstance(tree, dict):
            raise PlanError(f"--values {shown}: expected a mapping of values, found "
                            f"{type(tree).__name__}", file=shown, line=1)
        merged = _merged(merged, tree)
    return merged


def _text(name: str) -> str:
    try:
        return Path(name).read_text()
    except OSError as exc:
        raise PlanError(f"--values {name}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PlanError(f"--values {name}: not a text file") from None


def _merged(base: model.Json, over: model.Json) -> model.Json:
    out: dict[str, Any] = dict(base)
    for key, value in over.items():
        before = out.get(key)
        out[key] = (_merged(before, value) if isinstance(before, dict)
                    and isinstance(value, dict) else value)
    return out
