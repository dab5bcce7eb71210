"""A helm phase rendered for the stages that plan: the objects the release would hold (each
with its chart template as source), the images its hooks pull too, and what the plan hash
covers besides (the chart's digest and a digest of the values, never the values)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from phasegate.errors import PlanError
from phasegate.kube import helm, manifests
from phasegate.plan.model import Phase, Plan
from phasegate.workflow import helm_release

_SOURCE = re.compile(r"^# Source: (.+)$", re.MULTILINE)
_DOCUMENT = re.compile(r"^---[ \t]*$", re.MULTILINE)
HOOK = "helm.sh/hook"


@dataclass(frozen=True)
class Rendered:
    release: helm.Release
    objects: list[manifests.Manifest]  # the release's own objects (helm applies these)
    hooks: list[manifests.Manifest]  # hook objects: run by helm, not part of the release
    digests: dict[str, str] = field(default_factory=dict)  # chart, values

    def hashed(self) -> dict[str, Any]:
        """What the plan hash covers besides the rendered objects."""
        return {"helm": helm_release.ref(self.release), **self.digests}


def render(plan: Plan, phase: Phase, namespace: str) -> Rendered:
    assert phase.helm is not None
    release = helm_release.release_of(plan, phase.helm, namespace)
    run = helm.Helm(helm.find_binary(), None, None)  # rendering asks no cluster
    text = run.render(release)
    objects: list[manifests.Manifest] = []
    hooks: list[manifests.Manifest] = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for number, document in enumerate(_DOCUMENT.split(text), start=1):
        found = _SOURCE.search(document)
        obj = yaml.load(document, Loader=loader)
        if not isinstance(obj, dict) or not obj.get("kind"):
            continue
        source = f"chart {found.group(1) if found else release.chart.ref} (document {number})"
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        (hooks if HOOK in annotations else objects).append(manifests.Manifest(obj, source))
    digests = {"chart": run.digest(release.chart), "values": _values_digest(release)}
    return Rendered(release, sorted(objects, key=lambda m: manifests.ORDER.get(m.kind, 2)),
                    hooks, digests)


def _values_digest(release: helm.Release) -> str:
    sha = hashlib.sha256()
    for path in release.values:
        sha.update(path.read_bytes())
    sha.update(json.dumps(release.set, sort_keys=True, default=str).encode())
    return "sha256:" + sha.hexdigest()


def inputs_valid(plan: Plan) -> None:
    """A local chart and every values file exist: bad input (exit 2) before anything runs,
    never a helm error in the middle of a run."""
    source = str(plan.source) if plan.source else None
    for index, phase in enumerate(plan.phases):
        if phase.helm is None:
            continue
        where = f"phases[{index}].helm"
        if phase.helm.path and not (plan.base_dir / phase.helm.path).exists():
            raise PlanError(f"no chart at {phase.helm.path} (relative to the plan)",
                            file=source, path=f"{where}.path")
        for number, values in enumerate(phase.helm.values):
            if not Path(plan.base_dir / values).is_file():
                raise PlanError(f"values file {values} not found (relative to the plan)",
                                file=source, path=f"{where}.values[{number}]")
