"""Server-side apply (field manager ``phasegate``) and delete that waits for finalizers.

Each applied object is recorded as created, updated or unchanged, with its previous live
state: the basis for rolling back. Apply never forces by default: a field another manager
owns (an HPA's ``spec.replicas``) is a conflict (``kube.conflicts``), unless the caller
asks for force, and then what was taken from whom is kept with the result.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from phasegate.errors import ActionError, ProbeError
from phasegate.kube import bulk, conflicts, crd_waves, objects, snapshot
from phasegate.kube.client import Json, KubeClient, Resource, status_message, warnings_of
from phasegate.kube.manifests import Manifest

FIELD_MANAGER = "phasegate"


@dataclass(frozen=True)
class Applied:
    ref: str
    action: Literal["created", "updated", "unchanged", "accepted"]  # accepted: dry-run
    previous: Json | None
    warnings: tuple[str, ...] = ()
    source: str = ""
    live: Json = field(default_factory=dict)
    taken: tuple[conflicts.Conflict, ...] = ()  # fields forced away from other managers


async def apply_all(
    client: KubeClient, manifests: list[Manifest], namespace: str, *, dry_run: bool = False,
    into: list[Applied] | None = None, force: bool = False,
) -> list[Applied]:
    """Apply in waves (``crd_waves``): Namespaces and CRDs, then — once every new CRD's
    kinds are served — the rest, so a resource never races the CRD the same apply
    installs. Each wave's results are appended to ``into`` in manifest order once the wave
    ends, refused or not, so a caller keeps what was applied before a refusal."""
    results = [] if into is None else into
    for wave in crd_waves.waves(manifests):
        applied = await _apply_wave(client, wave, namespace, dry_run=dry_run, into=results,
                                    force=force)
        crds = [r.live for r in applied if r.live.get("kind") == crd_waves.CRD]
        if crds and not dry_run:
            await crd_waves.until_served(client, crds)
    return results


async def _apply_wave(
    client: KubeClient, wave: list[Manifest], namespace: str, *, dry_run: bool,
    into: list[Applied], force: bool = False,
) -> list[Applied]:
    """One wave's objects, which do not depend on each other: several in flight at once,
    their previous states read in advance (``kube.bulk``), results in manifest order."""
    places = [await place_of(client, m, namespace) for m in wave]
    keys = [(p.resource.path(p.namespace, p.name) if p else f"?{i}")
            for i, p in enumerate(places)]
    # the same object twice: the second apply must see what the first one made
    distinct = len(set(keys)) == len(keys)
    known = await bulk.previous_states(client, places) if distinct else {}
    indexed = list(enumerate(wave))

    async def one(item: tuple[int, Manifest]) -> Applied:
        index, manifest = item
        return await apply_one(client, manifest, namespace, dry_run=dry_run, force=force,
                               previous=known.get(index, FETCH))

    start = len(into)
    await bulk.in_order(indexed, one, width=bulk.CONCURRENCY if distinct else 1, into=into)
    return into[start:]


class Fetch:
    """Sentinel: read the previous state with a GET (nothing was read in advance)."""


FETCH = Fetch()


async def place_of(client: KubeClient, manifest: Manifest, namespace: str
                   ) -> bulk.Place | None:
    """Where ``manifest`` goes; None when its kind is not served (its apply says so, in
    manifest order)."""
    try:
        resource, target = await locate(client, manifest, namespace)
    except ActionError:
        return None
    return bulk.Place(resource, target, manifest.name)


async def locate(
    client: KubeClient, manifest: Manifest, namespace: str
) -> tuple[Resource, str | None]:
    """The manifest's resource and the namespace it goes to (None: cluster-scoped)."""
    resource = await _resource(client, manifest)
    if not resource.namespaced:
        return resource, None
    return resource, (manifest.obj.get("metadata") or {}).get("namespace") or namespace


async def apply_one(
    client: KubeClient, manifest: Manifest, namespace: str, *, dry_run: bool = False,
    force: bool = False, previous: Json | Fetch | None = FETCH,
) -> Applied:
    """Apply ``manifest`` as field manager ``phasegate``. A field another manager owns raises
    ``conflicts.ApplyConflict``; with ``force`` it is taken, and ``Applied.taken`` says so
    (the apply is first tried without force, to learn what force takes). ``previous``: the
    live state read in advance (None: absent), as ``kube.bulk`` does with one list for many
    objects; by default (``FETCH``) a GET reads it."""
    resource, target_namespace = await locate(client, manifest, namespace)
    obj = dict(manifest.obj)
    if resource.namespaced:
        obj["metadata"] = {**(obj.get("metadata") or {}), "namespace": target_namespace}
    path = resource.path(target_namespace, manifest.name)
    if isinstance(previous, Fetch):
        previous = await client.get(path)
    params = {"fieldManager": FIELD_MANAGER}
    if dry_run:
        params["dryRun"] = "All"
    content = json.dumps(obj)
    response = await client.request("PATCH", path, params=params, content=content,
                                    content_type="application/apply-patch+yaml")
    taken = conflicts.of(response)
    if taken and not force:
        raise conflicts.ApplyConflict(_ref(manifest, target_namespace), manifest.source, taken)
    if taken:
        response = await client.request("PATCH", path, params={**params, "force": "true"},
                                        content=content,
                                        content_type="application/apply-patch+yaml")
    warnings = tuple(warnings_of(response))
    if response.status_code >= 400:
        raise ActionError(
            f"{manifest.kind} {manifest.name} ({manifest.source}) refused: "
            f"{status_message(response)}",
            retryable=response.status_code >= 500,
        )
    live = response.json()
    if dry_run:
        action: Literal["created", "updated", "unchanged", "accepted"] = "accepted"
    elif previous is None:
        action = "created"
    elif previous["metadata"].get("resourceVersion") == live["metadata"].get("resourceVersion"):
        action = "unchanged"
    else:
        action = "updated"
    return Applied(objects.ref(live), action, _trim(previous, live), warnings, manifest.source,
                   live, taken)


def _ref(manifest: Manifest, namespace: str | None) -> str:
    return f"{manifest.kind} {namespace}/{manifest.name}" if namespace else (
        f"{manifest.kind} {manifest.name}")


async def _resource(client: KubeClient, manifest: Manifest) -> Resource:
    api_version = str(manifest.obj["apiVersion"])
    found = await client.resource(api_version, manifest.kind)
    if found is None:
        client.forget_discovery()  # a CRD applied earlier in this run may now serve it
        found = await client.resource(api_version, manifest.kind)
    if found is None:
        raise ActionError(f"{api_version}/{manifest.kind} is not served by this cluster "
                          f"({manifest.source}): is its CRD installed?")
    return found


def _trim(previous: Json | None, applied: Json) -> Json | None:
    """The snapshot kept as ``previous``: see :mod:`phasegate.kube.snapshot`."""
    return snapshot.keep(previous, applied)


async def delete(
    client: KubeClient, resource: Resource, namespace: str | None, name: str,
    timeout: float = 60, *, uid: str | None = None,
) -> str:
    """Delete and wait until gone; on timeout, say which finalizers still block.

    With ``uid`` only that object is ours: the delete carries it as a precondition, and the
    wait ends when no object with that UID holds the name. Returns "deleted", "absent", or
    "held by UID <other>" when another object (made by someone else meanwhile) has the name:
    that one is left as it is."""
    path = resource.path(namespace, name)
    options: dict[str, Any] = {"propagationPolicy": "Background"}
    if uid:
        options["preconditions"] = {"uid": uid}
    response = await client.request("DELETE", path, body=options)
    if response.status_code == 404:
        return "absent"
    if response.status_code == 409 and uid:  # the precondition failed: not our object
        held = await _holder(client, path, uid)
        if held:
            return held
    if response.status_code >= 400:
        raise ActionError(f"delete {resource.kind} {name}: {status_message(response)}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            current = await client.get(path)
        except ProbeError as exc:
            raise ActionError(str(exc), retryable=exc.retryable) from None
        if current is None:
            return "deleted"
        if uid and current["metadata"].get("uid") != uid:
            return f"held by UID {current['metadata'].get('uid')}"
        if time.monotonic() >= deadline:
            finalizers = current["metadata"].get("finalizers") or []
            raise ActionError(
                f"{resource.kind} {name} still exists after {timeout:g} s; blocked by "
                f"finalizers: {', '.join(finalizers) or 'none (still terminating)'}"
            )
        await asyncio.sleep(0.2)


async def _holder(client: KubeClient, path: str, uid: str) -> str | None:
    """What holds the name now, when not the object with ``uid``."""
    try:
        current = await client.get(path)
    except ProbeError as exc:
        raise ActionError(str(exc), retryable=exc.retryable) from None
    other = (current or {}).get("metadata", {}).get("uid")
    if current is None:
        return "absent"
    return None if other == uid else f"held by UID {other}"


def describe(results: list[Applied]) -> list[dict[str, Any]]:
    return [{"object": r.ref, "action": r.action, "source": r.source,
             "warnings": list(r.warnings)} for r in results]
