"""What kuttl does to a cluster, done the way kuttl does it: create an object, or merge-patch
it when it exists (a step may give only the fields it changes); delete by name or by kind
and labels; a namespace per test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from phasegate.errors import ActionError, ProbeError
from phasegate.kube import objects
from phasegate.kube.client import Json, KubeClient, Resource, raise_for_status, status_message


class Refused(ActionError):
    """The API refused a change; ``said`` is its own message (Chainsaw's ``$error``)."""

    def __init__(self, message: str, said: str, *, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.said = said


def _refused(obj: Json, name: str, response: Any) -> Refused:
    try:
        said = str(response.json().get("message") or "")
    except ValueError:
        said = response.text[:300]
    return Refused(f"{obj['kind']} {name}: {status_message(response)}", said,
                   retryable=response.status_code >= 500)


@dataclass(frozen=True)
class Done:
    ref: str
    action: str  # created, updated, deleted
    live: Json
    resource: Resource


async def resource_of(client: KubeClient, api_version: str, kind: str) -> Resource:
    try:
        if api_version:
            found = await client.resource(api_version, kind)
            if found is None:  # a CRD applied in an earlier step may serve it now
                client.forget_discovery()
                found = await client.resource(api_version, kind)
            if found is not None:
                return found
            raise ActionError(f"{api_version}/{kind} is not served by this cluster: "
                              "is its CRD installed?")
        return await client.find_kind(kind)
    except ProbeError as exc:
        raise ActionError(str(exc), retryable=exc.retryable) from None


async def create(client: KubeClient, obj: Json, namespace: str, *, strict: bool = False
                 ) -> Done:
    """Create only: an object that exists already is a failure (Chainsaw's create).
    ``strict``: fields the API does not know are refused, as Chainsaw's client does."""
    resource, body, where, name = await _prepared(client, obj, namespace)
    response = await client.request("POST", resource.path(where), body=body,
                                    params=_validation(strict))
    if response.status_code >= 400:
        raise _refused(obj, name, response)
    live = response.json()
    return Done(objects.ref(live), "created", live, resource)


async def replace(client: KubeClient, obj: Json, namespace: str, *, strict: bool = False
                  ) -> Done:
    """PUT the object whole over the one there (Chainsaw's update)."""
    resource, body, where, name = await _prepared(client, obj, namespace)
    current = await client.get(resource.path(where, name))
    if current is None:
        raise ActionError(f"{obj['kind']} {name} does not exist")
    body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
    response = await client.request("PUT", resource.path(where, name), body=body,
                                    params=_validation(strict))
    if response.status_code >= 400:
        raise _refused(obj, name, response)
    live = response.json()
    return Done(objects.ref(live), "updated", live, resource)


async def create_or_patch(client: KubeClient, obj: Json, namespace: str, *,
                          must_exist: bool = False, subresource: str = "",
                          strict: bool = False) -> Done:
    """kuttl's CreateOrUpdate: create, or JSON-merge-patch what is there; ``must_exist``:
    patch only (Chainsaw's patch and update)."""
    resource, body, where, name = await _prepared(client, obj, namespace)
    # asked first, as kuttl does: a partial object (only the fields a step changes) is
    # refused by validation on create before the server says it exists
    exists = await client.get(resource.path(where, name)) is not None
    if must_exist and not exists:
        raise ActionError(f"{obj['kind']} {name} does not exist")
    action = "created"
    if not exists:
        response = await client.request("POST", resource.path(where), body=body,
                                        params=_validation(strict))
    if exists or response.status_code == 409:
        path = resource.path(where, name) + (f"/{subresource}" if subresource else "")
        response = await client.request("PATCH", path,
                                        content=json.dumps(body),
                                        content_type="application/merge-patch+json",
                                        params=_validation(strict))
        action = "updated"
    if response.status_code >= 400:
        raise _refused(obj, name, response)
    live = response.json()
    return Done(objects.ref(live), action, live, resource)


def _validation(strict: bool) -> dict[str, str] | None:
    return {"fieldValidation": "Strict"} if strict else None


async def _prepared(client: KubeClient, obj: Json, namespace: str
                    ) -> tuple[Resource, Json, str | None, str]:
    resource = await resource_of(client, str(obj.get("apiVersion", "")), str(obj["kind"]))
    body = json.loads(json.dumps(obj))
    meta = body.setdefault("metadata", {})
    where = (meta.get("namespace") or namespace) if resource.namespaced else None
    if where:
        meta["namespace"] = where
    name = meta.get("name")
    if not name:
        raise ActionError(f"{obj['kind']} without metadata.name cannot be applied")
    return resource, body, where, str(name)


async def matching(client: KubeClient, resource: Resource, namespace: str | None, name: str,
                   labels: dict[str, str]) -> list[Json]:
    """The objects a delete reference names: one by name, or all of a kind (with labels)."""
    params: dict[str, Any] = {}
    if name:
        params["fieldSelector"] = f"metadata.name={name}"
    if labels:
        params["labelSelector"] = ",".join(f"{k}={v}" for k, v in labels.items())
    response = await client.request("GET", resource.path(namespace), params=params)
    raise_for_status(response, f"list {resource.plural}")
    return list(response.json().get("items") or [])


async def delete(client: KubeClient, resource: Resource, obj: Json) -> str:
    meta = obj.get("metadata") or {}
    response = await client.request(
        "DELETE", resource.path(meta.get("namespace"), meta.get("name")),
        body={"propagationPolicy": "Background"})
    if response.status_code == 404:
        return "absent"
    if response.status_code >= 400:
        raise ActionError(f"delete {objects.ref(obj)}: {status_message(response)}")
    return "deleted"


async def namespace_exists(client: KubeClient, name: str) -> bool:
    return await client.get(f"/api/v1/namespaces/{name}") is not None


async def create_namespace(client: KubeClient, name: str,
                           template: Json | None = None) -> None:
    """``template``: the namespace's other fields (Chainsaw's namespaceTemplate)."""
    body = json.loads(json.dumps(template or {}))
    body["metadata"] = {**(body.get("metadata") or {}), "name": name}
    response = await client.request("POST", "/api/v1/namespaces", body=body)
    if response.status_code >= 400:
        raise ActionError(f"create namespace {name}: {status_message(response)}")


async def delete_namespace(client: KubeClient, name: str) -> str:
    response = await client.request("DELETE", f"/api/v1/namespaces/{name}")
    if response.status_code == 404:
        return "absent"
    if response.status_code >= 400:
        raise ActionError(f"delete namespace {name}: {status_message(response)}")
    return "deleting"
