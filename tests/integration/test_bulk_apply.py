"""Applying a wave of many objects (apply_all, kube.bulk) against the real API server:
previous states from one list, several applies in flight, results and journal in manifest
order, and what was applied kept when one object is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from phasegate.errors import ActionError
from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from tests.integration.k8s_helpers import with_client
from tests.integration.kubeconfig_helpers import service_account_token, token_kubeconfig

pytestmark = pytest.mark.cluster


def _config_map(name: str, value: Any) -> manifests.Manifest:
    return manifests.Manifest({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": name}, "data": {"value": value}},
                              f"test#{name}")


class Requests:
    """What our client sends, and how many of its requests are in flight at most."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.in_flight = self.most_in_flight = 0

    def attach(self, client: KubeClient) -> None:
        client._http.event_hooks["request"].append(self.request)
        client._http.event_hooks["response"].append(self.response)

    async def request(self, request: httpx.Request) -> None:
        self.sent.append((request.method, request.url.path))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    async def response(self, response: httpx.Response) -> None:
        self.in_flight -= 1


def test_a_wave_lists_once_applies_in_parallel_and_keeps_manifest_order(
    cluster: SandboxInfo, namespace: str
) -> None:
    names = [f"cm-{n:02}" for n in range(20)]
    wave = [_config_map(name, "new") for name in names]
    wave[3] = _config_map("cm-03", "same")

    async def work(client: KubeClient) -> tuple[list[apply.Applied], Requests, dict[str, Any]]:
        await apply.apply_one(client, _config_map("cm-03", "same"), namespace)
        await apply.apply_one(client, _config_map("cm-07", "old"), namespace)
        seen = Requests()
        seen.attach(client)
        results = await apply.apply_all(client, wave, namespace)
        after = await client.get(f"/api/v1/namespaces/{namespace}/configmaps/cm-07")
        return results, seen, after or {}

    results, seen, after = with_client(cluster, namespace, work)
    assert [r.ref for r in results] == [f"ConfigMap {namespace}/{name}" for name in names]
    actions = {r.ref.rsplit("/", 1)[1]: r.action for r in results}
    assert actions["cm-03"] == "unchanged" and actions["cm-07"] == "updated"
    assert [a for n, a in actions.items() if n not in ("cm-03", "cm-07")] == ["created"] * 18
    updated = results[7].previous or {}
    # the listed state is the state a GET gives, kind and apiVersion included
    assert updated["kind"] == "ConfigMap" and updated["apiVersion"] == "v1"
    assert updated["data"] == {"value": "old"}
    assert updated["metadata"]["resourceVersion"] != after["metadata"]["resourceVersion"]
    assert results[0].previous is None
    gets = [path for method, path in seen.sent if method == "GET"]
    # one list, no GET each (the last GET is the test's own)
    assert gets == [f"/api/v1/namespaces/{namespace}/configmaps",
                    f"/api/v1/namespaces/{namespace}/configmaps/cm-07"]
    assert seen.most_in_flight > 1


def test_a_refused_object_stops_the_wave_and_what_was_applied_is_kept(
    cluster: SandboxInfo, namespace: str
) -> None:
    wave = [_config_map(f"cm-{n:02}", "fine") for n in range(30)]
    wave[12] = _config_map("cm-12", {"not": "a string"})  # the API server refuses it

    async def work(client: KubeClient) -> tuple[list[apply.Applied], str]:
        applied: list[apply.Applied] = []
        with pytest.raises(ActionError) as refused:
            await apply.apply_all(client, wave, namespace, into=applied)
        return applied, str(refused.value)

    applied, message = with_client(cluster, namespace, work)
    assert "cm-12" in message and "test#cm-12" in message
    refs = [r.ref for r in applied]
    assert refs[:12] == [f"ConfigMap {namespace}/cm-{n:02}" for n in range(12)]
    assert refs == sorted(refs) and f"ConfigMap {namespace}/cm-12" not in refs
    with connect(cluster) as api:
        live = api.get(f"/api/v1/namespaces/{namespace}/configmaps") or {}
    assert sorted(f"ConfigMap {namespace}/{i['metadata']['name']}"
                  for i in live["items"] if i["metadata"]["name"].startswith("cm-")) == refs


def test_the_same_object_twice_in_a_wave_is_applied_in_order(
    cluster: SandboxInfo, namespace: str
) -> None:
    wave = [_config_map(f"cm-{n:02}", "x") for n in range(10)]
    wave += [_config_map("cm-04", "second")]

    results = with_client(cluster, namespace,
                          lambda client: apply.apply_all(client, wave, namespace))
    assert results[4].action == "created" and results[10].action == "updated"
    assert (results[10].previous or {}).get("data") == {"value": "x"}
    assert results[10].live["data"] == {"value": "second"}


def test_an_identity_that_may_not_list_reads_each_object(
    cluster: SandboxInfo, namespace: str, tmp_path: Any
) -> None:
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    with connect(cluster) as api:
        api.create(f"{rbac}/namespaces/{namespace}/roles", {
            "metadata": {"name": "get-patch"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                       "verbs": ["get", "patch", "create"]}]})
    token = service_account_token(cluster, namespace, role=("Role", "get-patch"),
                                  cluster_wide=False)
    kubeconfig = token_kubeconfig(cluster, tmp_path / "kubeconfig", "no-list", token, namespace)
    wave = [_config_map(f"cm-{n:02}", "x") for n in range(10)]

    async def run() -> tuple[list[apply.Applied], Requests]:
        from phasegate.kube import kubeconfig as config

        client = KubeClient(config.load(str(kubeconfig), "no-list"))
        try:
            seen = Requests()
            seen.attach(client)
            return await apply.apply_all(client, wave, namespace), seen
        finally:
            await client.close()

    results, seen = asyncio.run(run())
    assert [r.action for r in results] == ["created"] * 10
    gets = [path for method, path in seen.sent if method == "GET"]
    assert f"/api/v1/namespaces/{namespace}/configmaps" in gets  # asked, refused (403)
    assert len([g for g in gets if "/configmaps/cm-" in g]) == 10  # then one GET each
