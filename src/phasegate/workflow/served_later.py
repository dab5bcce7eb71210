"""The preview of a resource whose kind the cluster does not serve yet, because its CRD is
installed by the plan itself — by an earlier phase, or earlier in the same phase. The server
cannot dry-run such a resource, so it is shown as "created after phase N" instead; one
that no CRD anywhere serves is bad input, named by its manifest and kind."""

from __future__ import annotations

from dataclasses import dataclass

from phasegate.errors import PlanError
from phasegate.kube import crd_waves
from phasegate.kube.client import KubeClient
from phasegate.kube.manifests import Manifest


@dataclass(frozen=True)
class Deferred:
    ref: str
    after: str  # "phase 1", or "its CRD in this phase"

    @property
    def note(self) -> str:
        return f"created after {self.after}"


class PlannedCrds:
    """Which phase (1-based) first installs a CRD serving each ``(apiVersion, kind)``."""

    def __init__(self, phases: list[list[Manifest]]) -> None:
        self._first: dict[tuple[str, str], tuple[int, crd_waves.ServedKind]] = {}
        for index, loaded in enumerate(phases, start=1):
            for key, kind in crd_waves.planned_kinds(loaded).items():
                self._first.setdefault(key, (index, kind))

    def installer(self, key: tuple[str, str]) -> tuple[int, crd_waves.ServedKind] | None:
        return self._first.get(key)


async def not_served_yet(client: KubeClient, planned: PlannedCrds, manifest: Manifest,
                         index: int, namespace: str) -> Deferred | None:
    """None when the cluster serves the manifest's kind (dry-run it as usual); a Deferred
    when a CRD of phase ``index`` or before will serve it; PlanError when nothing will."""
    if manifest.kind == crd_waves.CRD:
        return None
    key = (str(manifest.obj["apiVersion"]), manifest.kind)
    if await client.resource(*key) is not None:
        return None
    found = planned.installer(key)
    if found is None or found[0] > index:
        client.forget_discovery()  # installed a moment ago by someone else, perhaps
        if await client.resource(*key) is not None:
            return None
    if found is None:
        raise PlanError(f"{key[0]} {key[1]} {manifest.name!r} cannot be applied: the cluster "
                        "does not serve that kind and no CRD in this plan serves it (install "
                        "its CRD, in this plan or before, or check apiVersion and kind)",
                        file=manifest.source)
    phase, kind = found
    if phase > index:
        raise PlanError(f"{key[0]} {key[1]} {manifest.name!r} is in phase {index}, but its "
                        f"CRD {kind.crd} is installed only by phase {phase}: move it to phase "
                        f"{phase} or later", file=manifest.source)
    where = ""
    if kind.namespaced:
        where = f"{(manifest.obj.get('metadata') or {}).get('namespace') or namespace}/"
    after = "its CRD in this phase" if phase == index else f"phase {phase}"
    return Deferred(f"{manifest.kind} {where}{manifest.name}", after)
