"""Reading objects the way gates need them: with the list's resourceVersion, for watching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phasegate.kube import waiting
from phasegate.kube.client import Json, KubeClient, Resource, raise_for_status


@dataclass(frozen=True)
class Listing:
    items: list[Json]
    resource_version: str
    watch: dict[str, Any]


async def list_objects(
    client: KubeClient,
    resource: Resource,
    namespace: str | None,
    *,
    name: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    memo: dict[str, Any] | None = None,
) -> Listing:
    """List (optionally one named object); the listing carries what to watch for changes.

    ``memo`` is the calling check's gate memo (``ctx.memo()``): an event its own watch kept
    answers instead of a request."""
    params: dict[str, Any] = {}
    fields = [f for f in (f"metadata.name={name}" if name else None, field_selector) if f]
    if fields:
        params["fieldSelector"] = ",".join(fields)
    if label_selector:
        params["labelSelector"] = label_selector
    path = resource.path(namespace)
    event = waiting.recall(memo, path, params)
    if event is not None and isinstance(event.get("object"), dict):
        obj = event["object"]
        rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
        items = [] if event.get("type") == "DELETED" else [obj]
        return Listing(items, rv, waiting.spec(path, rv, params))
    response = await client.request("GET", path, params=params)
    raise_for_status(response, f"list {resource.plural}")
    body = response.json()
    rv = str(body.get("metadata", {}).get("resourceVersion", ""))
    return Listing(body.get("items") or [], rv, waiting.spec(path, rv, params))


def conditions(obj: Json) -> list[Json]:
    found = obj.get("status", {}).get("conditions") if isinstance(obj.get("status"), dict) else []
    return [c for c in found or [] if isinstance(c, dict)]


def condition(obj: Json, kind: str) -> Json | None:
    for entry in conditions(obj):
        if entry.get("type") == kind:
            return entry
    return None


def describe_conditions(obj: Json) -> str:
    parts = []
    for entry in conditions(obj):
        text = f"{entry.get('type')}={entry.get('status')}"
        if entry.get("reason"):
            text += f" ({entry['reason']})"
        parts.append(text)
    return ", ".join(parts) or "no conditions"


def ref(obj: Json) -> str:
    meta = obj.get("metadata", {})
    kind = obj.get("kind", "object")
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{kind} {where}{meta.get('name')}"
