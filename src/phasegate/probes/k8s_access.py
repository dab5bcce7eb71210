"""``k8s.can_i``: may this user — or a named ServiceAccount or user — do this?"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from phasegate.kube import connections
from phasegate.kube.client import KubeClient, raise_for_status
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe


class CanIParams(ProbeParams):
    verb: str = Field(description="get, list, watch, create, update, patch, delete, …")
    resource: str = Field(description="plural resource, e.g. deployments")
    group: str = Field("", description="API group; empty for the core group")
    subresource: str | None = None
    name: str | None = Field(None, description="one object's name")
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    subject: str | None = Field(
        None, alias="as",
        description="ask for system:serviceaccount:NS:NAME or a user, not for ourselves",
    )
    expect: Literal["allowed", "denied"] = Field("allowed", description="the expected answer")

    def describe(self) -> str:
        who = f"{self.subject} " if self.subject else ""
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{who}{self.verb} {resource}" + (f" in {self.namespace}" if self.namespace else "")


async def check_can_i(params: CanIParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    attributes: dict[str, Any] = {
        "verb": params.verb, "resource": params.resource, "group": params.group,
    }
    if not await _cluster_scoped(client, params.group, params.resource):
        # a namespace on a cluster-scoped question lets a RoleBinding in that namespace
        # answer it: "list nodes" came back allowed for a user who may not list nodes
        attributes["namespace"] = connections.namespace_of(ctx, params.namespace)
    if params.subresource:
        attributes["subresource"] = params.subresource
    if params.name:
        attributes["name"] = params.name
    if params.subject:
        kind = "SubjectAccessReview"
        spec: dict[str, Any] = {"resourceAttributes": attributes, **_subject(params.subject)}
    else:
        kind = "SelfSubjectAccessReview"
        spec = {"resourceAttributes": attributes}
    path = f"/apis/authorization.k8s.io/v1/{kind.lower()}s"
    response = await client.request("POST", path, body={
        "apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec})
    raise_for_status(response, f"create {kind}")
    status = response.json().get("status", {})
    allowed = bool(status.get("allowed"))
    observed = "allowed" if allowed else "denied"
    why = status.get("reason") or status.get("evaluationError")
    if why:
        observed += f" ({why})"
    passed = allowed == (params.expect == "allowed")
    return Verdict(passed, params.expect, observed, data={"review": status})


async def _cluster_scoped(client: KubeClient, group: str, resource: str) -> bool:
    """Discovery says so; an unknown resource (or ``*``) is asked about in the namespace."""
    versions = await client.group_versions(group) if group else ["v1"]
    for version in versions:
        for served in await client.resources(version):
            if served.plural == resource:
                return not served.namespaced
    return False


def _subject(subject: str) -> dict[str, Any]:
    if subject.startswith("system:serviceaccount:"):
        namespace = subject.split(":")[2]
        return {"user": subject, "groups": ["system:serviceaccounts",
                                            f"system:serviceaccounts:{namespace}",
                                            "system:authenticated"]}
    return {"user": subject, "groups": ["system:authenticated"]}


PROBES = [cluster_probe("k8s.can_i", CanIParams, check_can_i,
                    "an access review: may we (or a ServiceAccount) do this?")]
