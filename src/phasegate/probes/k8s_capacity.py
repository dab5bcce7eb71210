"""``k8s.quota``, ``k8s.storage_class``, ``k8s.ingress_class``: room and classes to run in."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema, field_validator

from phasegate.kube import connections, quantity
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe


class QuotaParams(ProbeParams):
    requests: Annotated[dict[str, str], WithJsonSchema({
        "type": "object", "additionalProperties": {"type": ["string", "number"]},
        "description": "quota resource → quantity (3, 500m, 1Gi)"})] = Field(
        description="what the change will add, by quota resource: "
        "{pods: 3, requests.cpu: 1500m, requests.memory: 3Gi}"
    )
    namespace: str | None = Field(None, description="default: the plan's target namespace")

    @field_validator("requests", mode="before")
    @classmethod
    def _quantities(cls, value: object) -> object:
        if isinstance(value, dict):
            normal = {}
            for key, amount in value.items():
                quantity.parse(amount)
                normal[str(key)] = str(amount)
            return normal
        return value

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.requests.items())


async def check_quota(params: QuotaParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    body = await client.get(f"/api/v1/namespaces/{namespace}/resourcequotas") or {}
    quotas = body.get("items") or []
    expected = f"headroom for {params.describe()} in {namespace}"
    if not quotas:
        return Verdict(True, expected, "no ResourceQuota in the namespace: no quota limit")
    short: list[str] = []
    room: list[str] = []
    for quota in quotas:
        hard = quota.get("status", {}).get("hard") or quota.get("spec", {}).get("hard") or {}
        used = quota.get("status", {}).get("used") or {}
        for key, amount in params.requests.items():
            for name in _aliases(key):
                if name not in hard:
                    continue
                left = quantity.parse(hard[name]) - quantity.parse(used.get(name, "0"))
                need = quantity.parse(amount)
                line = (f"{quota['metadata']['name']}: {name} {quantity.show(left)} left "
                        f"(hard {hard[name]}, used {used.get(name, '0')}), need {amount}")
                (room if left >= need else short).append(line)
    data: dict[str, Any] = {"quotas": [q["metadata"]["name"] for q in quotas]}
    if short:
        return Verdict(False, expected, "; ".join(short), detail="\n".join(short + room),
                       data=data)
    return Verdict(True, expected, "; ".join(room) or "no quota constrains these resources",
                   data=data)


def _aliases(key: str) -> list[str]:
    # "cpu" in a quota means requests.cpu; accept either spelling from the plan
    if key in ("cpu", "memory", "ephemeral-storage"):
        return [key, f"requests.{key}"]
    if key.startswith("requests.") and key[9:] in ("cpu", "memory", "ephemeral-storage"):
        return [key, key[9:]]
    return [key]


class ClassParams(ProbeParams):
    name: str = Field(description="the class name")

    def describe(self) -> str:
        return self.name


async def check_storage_class(params: ClassParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    found = await client.get(f"/apis/storage.k8s.io/v1/storageclasses/{params.name}")
    if found is None:
        return Verdict(False, "exists", f"not found{await _others(client, 'storage')}")
    default = (found["metadata"].get("annotations") or {}).get(
        "storageclass.kubernetes.io/is-default-class") == "true"
    return Verdict(True, "exists", f"exists, provisioner {found.get('provisioner')}"
                   + (", the default" if default else ""))


async def check_ingress_class(params: ClassParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    found = await client.get(f"/apis/networking.k8s.io/v1/ingressclasses/{params.name}")
    if found is None:
        return Verdict(False, "exists", f"not found{await _others(client, 'ingress')}")
    return Verdict(True, "exists", f"exists, controller {found.get('spec', {}).get('controller')}")


async def _others(client: Any, which: str) -> str:
    path = ("/apis/storage.k8s.io/v1/storageclasses" if which == "storage"
            else "/apis/networking.k8s.io/v1/ingressclasses")
    body = await client.get(path) or {}
    names = [i["metadata"]["name"] for i in body.get("items") or []]
    return f" (the cluster has: {', '.join(names)})" if names else " (the cluster has none)"


PROBES = [
    cluster_probe("k8s.quota", QuotaParams, check_quota,
              "a namespace's ResourceQuotas have headroom for given requests"),
    cluster_probe("k8s.storage_class", ClassParams, check_storage_class, "a StorageClass exists"),
    cluster_probe("k8s.ingress_class", ClassParams, check_ingress_class, "an IngressClass exists"),
]
