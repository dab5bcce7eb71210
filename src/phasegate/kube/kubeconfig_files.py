"""The kubeconfig files kubectl would read, merged by kubectl's rules.

``--kubeconfig FILE`` (or a plan's ``target.kubeconfig``) is one file that must exist.
Otherwise ``KUBECONFIG`` lists files (``:``-separated; empty and repeated entries are
dropped, missing files skipped), else ``~/.kube/config``. The first file to define a
cluster, user or context name wins, whole entry; ``current-context`` likewise. Relative
paths inside an entry are relative to the file that defined it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegate.errors import TargetError

SECTIONS = ("clusters", "users", "contexts")


@dataclass(frozen=True)
class Entry:
    """One named cluster, user or context, and the file that defined it."""

    name: str
    body: dict[str, Any]
    file: Path


@dataclass
class Merged:
    files: list[Path]  # the files that were read, in order
    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)
    current_context: str | None = None

    def where(self) -> str:
        return ", ".join(str(f) for f in self.files) or "(no kubeconfig file exists)"

    def context(self, name: str) -> Entry:
        found = self.entries["contexts"].get(name)
        if found is None:
            known = ", ".join(self.entries["contexts"]) or "none"
            raise TargetError(f"context {name!r} is not in kubeconfig {self.where()} "
                              f"(it has: {known})")
        return found

    def named(self, section: str, name: str, wanted_by: Entry) -> Entry:
        found = self.entries[section].get(name)
        if found is None:
            raise TargetError(
                f"kubeconfig {wanted_by.file}: context {wanted_by.name!r} names "
                f"{section[:-1]} {name!r}, which no kubeconfig file ({self.where()}) defines"
            )
        return found


def paths(explicit: str | None) -> tuple[list[Path], bool]:
    """The files to read, and whether each must exist (an explicit file or the only default)."""
    if explicit:
        return [Path(explicit).expanduser()], True
    listed: list[Path] = []
    for item in os.environ.get("KUBECONFIG", "").split(os.pathsep):
        path = Path(item).expanduser()
        if item and path not in listed:
            listed.append(path)
    if listed:
        return listed, False
    return [Path.home() / ".kube" / "config"], False


def read(explicit: str | None) -> Merged:
    files, required = paths(explicit)
    merged = Merged(files=[], entries={section: {} for section in SECTIONS})
    for file in files:
        if not file.exists():
            if required:
                raise TargetError(f"kubeconfig {file} not found (set --kubeconfig or KUBECONFIG)")
            continue  # kubectl skips listed files that do not exist
        config = _parse(file)
        merged.files.append(file)
        for section in SECTIONS:
            for entry in _entries(config, section, file):
                merged.entries[section].setdefault(entry.name, entry)
        current = config.get("current-context")
        if merged.current_context is None and isinstance(current, str) and current:
            merged.current_context = current
    return merged


def _parse(file: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        config = YAML(typ="safe").load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TargetError(f"kubeconfig {file} cannot be read: {reason}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TargetError(f"kubeconfig {file} is not a kubeconfig mapping")
    return config


def _entries(config: dict[str, Any], section: str, file: Path) -> list[Entry]:
    items = config.get(section) or []
    if not isinstance(items, list):
        raise TargetError(f"kubeconfig {file}: {section} is not a list")
    found = []
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        body = item.get(section[:-1]) if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise TargetError(f"kubeconfig {file}: {section}[{index}] has no name")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise TargetError(f"kubeconfig {file}: {section[:-1]} {name!r} is not a mapping")
        found.append(Entry(name, body, file))
    return found
