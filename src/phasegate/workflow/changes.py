"""What a phase applied, fingerprinted per manifest file (rendered, inputs substituted),
so that a resume can tell a passed phase whose manifests changed since from one that did
not — and never skip the first in silence."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.kube import manifests
from phasegate.plan.model import Plan
from phasegate.store import records


@dataclass(frozen=True)
class Changed:
    index: int
    phase: str
    files: list[str]

    def describe(self) -> str:
        return f"phase {self.index} ({self.phase}): {', '.join(self.files)}"


def fingerprint(loaded: list[manifests.Manifest], base_dir: Path) -> dict[str, str]:
    """A digest of the rendered objects of each manifest file, by path relative to the plan."""
    digests: dict[str, Any] = {}
    for manifest in loaded:
        file = _relative(manifest.source.rsplit("#", 1)[0], base_dir)
        digest = digests.setdefault(file, hashlib.sha256())
        digest.update(json.dumps(manifest.obj, sort_keys=True, default=str).encode())
    return {file: digest.hexdigest()[:16] for file, digest in sorted(digests.items())}


def recorded(steps: Sequence[records.StepRecord]) -> dict[str, dict[str, str]]:
    """The latest fingerprint recorded per phase by a run's apply steps."""
    found: dict[str, dict[str, str]] = {}
    for step in steps:
        if step.kind == records.APPLY and step.phase is not None and step.fingerprints:
            found[step.phase] = step.fingerprints
    return found


def changed_since(plan: Plan, steps: Sequence[records.StepRecord],
                  phases: set[str]) -> list[Changed]:
    """Which of ``phases`` (passed earlier) would apply something else now, with the files.
    A phase recorded before fingerprints existed cannot be compared and is not listed."""
    before = recorded(steps)
    found = []
    for index, phase in enumerate(plan.phases, start=1):
        if phase.name not in phases or phase.name not in before:
            continue
        now = fingerprint(manifests.load(phase.apply, plan.base_dir, plan.inputs),
                          plan.base_dir)
        then = before[phase.name]
        files = sorted(f for f in set(now) | set(then) if now.get(f) != then.get(f))
        if files:
            found.append(Changed(index, phase.name, files))
    return found


def _relative(file: str, base_dir: Path) -> str:
    path = Path(file)
    try:
        return str(path.resolve().relative_to(base_dir.resolve()))
    except ValueError:
        return str(path)
