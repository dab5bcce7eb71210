"""Which files a plan's ``apply`` paths name: files as given, directories walked."""

from __future__ import annotations

from pathlib import Path

from phasegate.errors import PlanError

SUFFIXES = (".yaml", ".yml", ".json")


def files(paths: list[str], base_dir: Path) -> list[Path]:
    found: list[Path] = []
    for given in paths:
        path = base_dir / given
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise PlanError("manifest path not found", file=str(path))
    return found
