"""The project file: ``phasegate.toml``, found upward from the working directory, or the
file ``PHASEGATE_CONFIG`` names. It gives defaults for the store, the kubeconfig, the
context and the reports directory; the environment and then the flags override them.

Relative paths in it are relative to the file, so the same file serves every directory
below it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from phasegate.errors import PlanError

NAME = "phasegate.toml"
KEYS = ("store", "kubeconfig", "context", "reports")
_EXAMPLE = 'e.g. store = ".phasegate/evidence.db", context = "staging"'


@dataclasses.dataclass(frozen=True)
class Defaults:
    path: Path | None = None  # the file they came from; None when there is none
    store: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    reports: str | None = None


def find(start: Path) -> Path | None:
    """The file ``PHASEGATE_CONFIG`` names, else the nearest ``phasegate.toml`` upward."""
    named = os.environ.get("PHASEGATE_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            what = "a directory" if path.is_dir() else "a file that does not exist"
            raise PlanError(f"PHASEGATE_CONFIG names {what}; point it at a {NAME} "
                            "or unset it", file=str(path))
        return path
    for directory in (start, *start.parents):
        candidate = directory / NAME
        if candidate.is_file():
            return candidate
    return None


def load(start: Path) -> Defaults:
    path = find(start)
    return Defaults() if path is None else read(path)


def read(path: Path) -> Defaults:
    """The defaults ``path`` sets; anything malformed is a PlanError naming its line."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise PlanError(f"the project file cannot be read: {reason}", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line, column = _located(str(exc))
        raise PlanError(f"TOML syntax error: {message}", file=str(path), line=line,
                        column=column) from None
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in KEYS:
            from difflib import get_close_matches

            close = get_close_matches(key, KEYS, n=1)
            raise PlanError(f"unknown key '{key}'; a project file sets {', '.join(KEYS)}",
                            file=str(path), line=_line_of(text, key), path=key,
                            suggestion=close[0] if close else None)
        if not isinstance(value, str) or not value:
            raise PlanError(f"expected a non-empty string, found {_kind(value)} ({_EXAMPLE})",
                            file=str(path), line=_line_of(text, key), path=key)
        values[key] = value
    base = path.parent.resolve()
    for key in ("kubeconfig", "reports"):
        if key in values:
            values[key] = str(base / Path(values[key]).expanduser())
    if "store" in values and "://" not in values["store"]:
        values["store"] = str(base / Path(values["store"]).expanduser())
    return Defaults(path=path, **values)


def _located(message: str) -> tuple[str, int | None, int | None]:
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found is None:
        found = re.search(r"\s*\(at end of document\)$", message)
        return (message[: found.start()] + " at the end of the file" if found else message,
                None, None)
    return message[: found.start()], int(found.group(1)), int(found.group(2))


def _line_of(text: str, key: str) -> int | None:
    """The line that sets ``key`` (``key = …`` or a ``[key]`` table), for the error."""
    quoted = re.escape(key)
    pattern = re.compile(rf"^\s*(\[\s*)?(\"{quoted}\"|'{quoted}'|{quoted})\s*(=|\]|\.)")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _kind(value: object) -> str:
    for kind, name in ((bool, "a boolean"), (int, "a number"), (float, "a number"),
                       (str, "an empty string"), (list, "a list"), (dict, "a table")):
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"
