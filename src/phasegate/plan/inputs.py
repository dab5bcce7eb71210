"""Plan inputs: ``--input @values.yaml`` and ``--input key=value``, used as ``${input.key}``.

Inputs come by file so that nothing is quoted through YAML and shell on the way (CI):
``@values.yaml`` merges a mapping, ``key=@file`` is one value (the file's text, less one
final newline), and ``@b64:file`` / ``key=@b64:file`` the same in base64, for values that
come from CI secrets: every value read that way is a secret from then on. ``key=@@text``
is the literal ``@text``. ``${env:NAME}`` reads the environment and is always a secret.
"""

from __future__ import annotations

import base64
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

    def path_of(name: str) -> Path:
        return Path(name) if base is None else base / name

    for arg in args:
        if arg.startswith(B64):
            _merge(values, _read_values_file(path_of(arg[len(B64):]), secret=True))
        elif arg.startswith("@"):
            _merge(values, _read_values_file(path_of(arg[1:])))
        elif "=" in arg:
            key, _, value = arg.partition("=")
            if not key:
                raise PlanError(f"input {arg!r} has no key; expected key=value or @file.yaml")
            if value.startswith("@@"):
                value = value[1:]
            elif value.startswith(B64):
                value = _read_text(path_of(value[len(B64):]), secret=True).removesuffix("\n")
                secrets.register(value)
            elif value.startswith("@"):
                value = _read_text(path_of(value[1:])).removesuffix("\n")
            _merge(values, _nested(key.split("."), value))
        else:
            raise PlanError(f"input {arg!r} is neither key=value nor @file.yaml")
    return values


B64 = "@b64:"  # the file holds base64 (a CI secret); the value read is a secret


def _read_text(path: Path, secret: bool = False) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError("input file not found", file=str(path)) from None
    except OSError as exc:
        raise PlanError(f"input file cannot be read ({exc.strerror})", file=str(path)) from None
    if secret:
        try:
            raw = base64.b64decode(b"".join(raw.split()), validate=True)
        except ValueError:
            # never the content in the message: it is a secret, encoded or not
            raise PlanError("input file is not valid base64 (an @b64: file holds the "
                            "base64 of the value, e.g. `base64 -w0 < value`)",
                            file=str(path)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError("input file is not UTF-8 text" + (" once decoded" if secret else ""),
                        file=str(path)) from None


def _read_values_file(path: Path, secret: bool = False) -> dict[str, Any]:
    from phasegate.plan import yamltext

    text = _read_text(path, secret)
    data = yamltext.parse(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PlanError("expected a mapping of input names to values", file=str(path), line=1)
    values: dict[str, Any] = yamltext.plain(data)
    if secret:
        _register_leaves(values)
    return values


def _register_leaves(node: Any) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _register_leaves(value)
    elif isinstance(node, list):
        for value in node:
            _register_leaves(value)
    elif node is not None and not isinstance(node, bool):
        secrets.register(str(node))


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
