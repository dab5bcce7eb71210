"""Plan inputs: ``--input @values.yaml`` and ``--input key=value``, used as ``${input.key}``.

``${env:NAME}`` reads the environment and is always treated as a secret.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from phasegate import secrets
from phasegate.errors import PlanError

PLACEHOLDER = re.compile(r"\$\$\{|\$\{(input\.[A-Za-z0-9_.-]+|env:[A-Za-z_][A-Za-z0-9_]*)\}")


def parse_input_args(args: list[str], base: Path | None = None) -> dict[str, Any]:
    """Merge ``@file`` (YAML or JSON mapping) and ``key=value`` arguments, later ones winning."""
    values: dict[str, Any] = {}
    for arg in args:
        if arg.startswith("@"):
            _merge(values, _read_values_file(Path(arg[1:]) if base is None else base / arg[1:]))
        elif "=" in arg:
            key, _, value = arg.partition("=")
            if not key:
                raise PlanError(f"input {arg!r} has no key; expected key=value or @file.yaml")
            _merge(values, _nested(key.split("."), value))
        else:
            raise PlanError(f"input {arg!r} is neither key=value nor @file.yaml")
    return values


def _read_values_file(path: Path) -> dict[str, Any]:
    from phasegate.plan import yamltext

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError("input file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"input file cannot be read as text ({exc})", file=str(path)) from None
    data = yamltext.parse(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PlanError("expected a mapping of input names to values", file=str(path), line=1)
    return yamltext.plain(data)  # type: ignore[no-any-return]


def _nested(keys: list[str], value: Any) -> dict[str, Any]:
    for key in reversed(keys[1:]):
        value = {key: value}
    return {keys[0]: value}


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


class MissingInput(LookupError):
    pass


def resolve(name: str, inputs: dict[str, Any]) -> Any:
    if name.startswith("env:"):
        variable = name[4:]
        if variable not in os.environ:
            raise MissingInput(f"environment variable {variable} is not set")
        value = os.environ[variable]
        secrets.register(value)
        return value
    current: Any = inputs
    for key in name.split(".")[1:]:
        if not isinstance(current, dict) or key not in current:
            raise MissingInput(f"input '{name[6:]}' is not given (pass --input {name[6:]}=...)")
        current = current[key]
    return current


def substitute(text: str, inputs: dict[str, Any]) -> Any:
    """Replace placeholders in ``text``; a text that is one placeholder keeps the value's type."""
    if "${" not in text:  # nearly every string of a plan: skip both regex passes
        return text
    whole = PLACEHOLDER.fullmatch(text)
    if whole and whole.group(1):
        return resolve(whole.group(1), inputs)

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        value = resolve(match.group(1), inputs)
        return value if isinstance(value, str) else str(value)

    return PLACEHOLDER.sub(one, text)
