"""Server-side apply (field manager ``phasegate``) and delete that waits for finalizers.

Each applied object is recorded as created, updated or unchanged, with its previous live
state: the basis for rolling back.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from phasegate.errors import ActionError, ProbeError
from phasegate.kube import objects
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


async def apply_all(
    client: KubeClient, manifests: list[Manifest], namespace: str, *, dry_run: bool = False
) -> list[Applied]:
    results = []
    for manifest in manifests:
        results.append(await apply_one(client, manifest, namespace, dry_run=dry_run))
        if manifest.kind == "CustomResourceDefinition" and not dry_run:
            await _until_established(client, manifest.name)
    return results


async def apply_one(
    client: KubeClient, manifest: Manifest, namespace: str, *, dry_run: bool = False
) -> Applied:
    resource = await _resource(client, manifest)
    obj = dict(manifest.obj)
    target_namespace = None
    if resource.namespaced:
        metadata = dict(obj.get("metadata") or {})
        target_namespace = metadata.get("namespace") or namespace
        metadata["namespace"] = target_namespace
        obj["metadata"] = metadata
    path = resource.path(target_namespace, manifest.name)
    previous = await client.get(path)
    params = {"fieldManager": FIELD_MANAGER, "force": "true"}
    if dry_run:
        params["dryRun"] = "All"
    response = await client.request("PATCH", path, params=params, content=json.dumps(obj),
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
    return Applied(objects.ref(live), action, _trim(previous), warnings, manifest.source, live)


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


async def _until_established(client: KubeClient, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    while time.monotonic() < deadline:
        crd = await client.get(path)
        established = objects.condition(crd or {}, "Established")
        if established and established.get("status") == "True":
            client.forget_discovery()
            return
        await asyncio.sleep(0.1)
    raise ActionError(f"CRD {name} did not become Established within {timeout:g} s")


def _trim(obj: Json | None) -> Json | None:
    """The live state worth keeping: no managedFields (large, and rebuilt by the server), and
    never a Secret's values — secrets do not reach the store, so such a state is marked
    as one that cannot be restored."""
    if obj is None:
        return None
    trimmed = dict(obj)
    metadata = dict(trimmed.get("metadata") or {})
    metadata.pop("managedFields", None)
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)  # holds values
    if annotations or "annotations" in metadata:
        metadata["annotations"] = annotations
    trimmed["metadata"] = metadata
    if trimmed.get("kind") == "Secret":
        for field_name in ("data", "stringData"):
            if isinstance(trimmed.get(field_name), dict):
                trimmed[field_name] = dict.fromkeys(trimmed[field_name], REDACTED)
    return trimmed


REDACTED = "<redacted: secret values are never kept>"


def restorable(previous: Json | None) -> bool:
    """Whether a recorded previous state can be put back as it was."""
    return previous is None or not any(
        REDACTED in (previous.get(f) or {}).values() for f in ("data", "stringData")
        if isinstance(previous.get(f), dict))


async def delete(
    client: KubeClient, resource: Resource, namespace: str | None, name: str, timeout: float = 60
) -> str:
    """Delete and wait until gone; on timeout, say which finalizers still block."""
    path = resource.path(namespace, name)
    response = await client.request("DELETE", path, body={"propagationPolicy": "Background"})
    if response.status_code == 404:
        return "absent"
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
        if time.monotonic() >= deadline:
            finalizers = current["metadata"].get("finalizers") or []
            raise ActionError(
                f"{resource.kind} {name} still exists after {timeout:g} s; blocked by "
                f"finalizers: {', '.join(finalizers) or 'none (still terminating)'}"
            )
        await asyncio.sleep(0.2)


def describe(results: list[Applied]) -> list[dict[str, Any]]:
    return [{"object": r.ref, "action": r.action, "source": r.source,
             "warnings": list(r.warnings)} for r in results]
