"""CRDs and the resources they serve, in one apply: the waves an apply goes in (Namespaces
and CRDs, then the rest), the kinds a CRD manifest will serve, and the wait until the API
server serves them.

A CRD's ``Established`` condition can turn True a moment before discovery lists its kinds,
and a request for a kind discovery does not list yet is refused; so the wait is over only
when both are true, for every served version.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from phasegate.errors import ActionError
from phasegate.kube import objects
from phasegate.kube.client import Json, KubeClient
from phasegate.kube.manifests import Manifest

CRD = "CustomResourceDefinition"
FIRST_WAVE = frozenset({"Namespace", CRD})  # what the rest may need to exist before it
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SERVED_TIMEOUT = 60.0


@dataclass(frozen=True)
class ServedKind:
    """A kind a CRD serves: ``api_version`` ``kind``, namespaced or not, and by which CRD."""

    api_version: str
    kind: str
    namespaced: bool
    crd: str
    source: str = ""  # the CRD's manifest, for errors


def waves(manifests: list[Manifest]) -> list[list[Manifest]]:
    """Namespaces and CRDs, then everything else; manifest order kept within a wave. Each
    wave is applied and (for CRDs) served before the next starts; objects of one wave do
    not depend on each other, so they may be applied concurrently."""
    first = [m for m in manifests if m.kind in FIRST_WAVE]
    rest = [m for m in manifests if m.kind not in FIRST_WAVE]
    return [wave for wave in (first, rest) if wave]


def served_kinds(obj: Json, source: str = "") -> list[ServedKind]:
    """The kinds a CRD (manifest or live object) serves; empty for anything else."""
    if obj.get("kind") != CRD:
        return []
    spec = obj.get("spec") or {}
    group = spec.get("group")
    kind = (spec.get("names") or {}).get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return []
    name = str((obj.get("metadata") or {}).get("name", ""))
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    return [ServedKind(f"{group}/{v['name']}", kind, namespaced, name, source)
            for v in spec.get("versions") or []
            if isinstance(v, dict) and v.get("name") and v.get("served", True)]


def planned_kinds(manifests: Iterable[Manifest]) -> dict[tuple[str, str], ServedKind]:
    """``(apiVersion, kind)`` → the CRD among ``manifests`` that will serve it."""
    return {(k.api_version, k.kind): k for m in manifests
            for k in served_kinds(m.obj, m.source)}


async def until_served(client: KubeClient, crds: list[Json],
                       timeout: float = SERVED_TIMEOUT) -> None:
    """Wait until every CRD in ``crds`` (live objects just applied) is Established and
    discovery lists each kind it serves; then forget what discovery said before. A
    timeout names the CRD and what it was still waiting for."""
    pending = {str(c["metadata"]["name"]): served_kinds(c) for c in crds}
    deadline = time.monotonic() + timeout
    while True:
        listed: dict[str, set[str]] = {}  # one discovery request per group version a round
        waiting: dict[str, str] = {}
        for name, kinds in pending.items():
            why = await _not_served(client, name, kinds, listed)
            if why:
                waiting[name] = why
        pending = {name: pending[name] for name in waiting}
        if not pending:
            client.forget_discovery()
            return
        if time.monotonic() >= deadline:
            name, why = next(iter(waiting.items()))
            others = f" (and {len(waiting) - 1} other CRD(s))" if len(waiting) > 1 else ""
            raise ActionError(f"CRD {name}{others} not served within {timeout:g} s: "
                              f"still waiting for {why}")
        await asyncio.sleep(0.1)


async def _not_served(client: KubeClient, name: str, kinds: list[ServedKind],
                      listed: dict[str, set[str]]) -> str:
    """What CRD ``name`` still waits for; empty once it is Established and served."""
    crd = await client.get(f"{CRD_PATH}/{name}")
    if crd is None:
        return "it to exist (it was applied, but the API server does not return it)"
    established = objects.condition(crd, "Established")
    if not established or established.get("status") != "True":
        return f"the Established condition (now: {objects.describe_conditions(crd)})"
    for kind in kinds:
        if kind.api_version not in listed:
            group, _, version = kind.api_version.rpartition("/")
            document = await client.get(f"/apis/{group}/{version}") or {}
            listed[kind.api_version] = {str(r.get("kind")) for r in
                                        document.get("resources") or []}
        if kind.kind not in listed[kind.api_version]:
            return (f"discovery to list {kind.api_version} {kind.kind} (the CRD is "
                    "Established, but the API server does not serve the kind yet)")
    return ""
