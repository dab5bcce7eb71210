"""Rollback against a cluster where someone else writes too: a restore that meets a real
409 Conflict re-reads and re-applies the snapshot (bounded, recorded), and one that still
fails says precisely what is left.

The conflicting writer is a second, real API client. It writes exactly between
phasegate's read and its PUT: the write is issued from a request hook of phasegate's own
client when that client is about to send the restoring PUT, so the real API server sees
a stale resourceVersion and answers 409 by itself.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from phasegate.errors import ActionError
from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from phasegate.workflow import rollback
from tests.integration.k8s_helpers import with_client

pytestmark = pytest.mark.cluster


def _config_map(name: str, value: str) -> manifests.Manifest:
    return manifests.Manifest({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": name}, "data": {"value": value}}, "test")


def _entry(applied: apply.Applied) -> dict[str, Any]:
    meta = applied.live["metadata"]
    return {"ref": applied.ref, "action": applied.action, "previous": applied.previous,
            "apiVersion": applied.live["apiVersion"], "kind": applied.live["kind"],
            "name": meta["name"], "namespace": meta.get("namespace")}


class ConcurrentWriter:
    """Bumps the object (a real write by a second client) before each of the first
    ``times`` restoring PUTs phasegate sends to ``path``."""

    def __init__(self, cluster: SandboxInfo, path: str, times: int) -> None:
        self.cluster, self.path, self.times = cluster, path, times
        self.puts = 0

    async def __call__(self, request: httpx.Request) -> None:
        if request.method != "PUT" or request.url.path != self.path:
            return
        self.puts += 1
        if self.puts > self.times:
            return
        with connect(self.cluster) as api:
            api.request("PATCH", self.path,
                        {"metadata": {"annotations": {"writer/bump": str(self.puts)}}},
                        content_type="application/merge-patch+json").raise_for_status()


async def _updated_and_created(client: KubeClient, namespace: str) -> list[dict[str, Any]]:
    """A journal as a phase leaves it: ``held`` updated (before → after), ``extra`` created."""
    await apply.apply_one(client, _config_map("held", "before"), namespace)
    updated = await apply.apply_one(client, _config_map("held", "after"), namespace)
    created = await apply.apply_one(client, _config_map("extra", "new"), namespace)
    assert updated.action == "updated" and created.action == "created"
    return [_entry(updated), _entry(created)]


def test_restore_retries_a_real_conflict_and_records_it(
    cluster: SandboxInfo, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/held"
    writer = ConcurrentWriter(cluster, path, times=2)

    async def work(client: KubeClient) -> str:
        entries = await _updated_and_created(client, namespace)
        client._http.event_hooks["request"].append(writer)
        return await rollback.restore(client, entries)

    done = with_client(cluster, namespace, work)
    assert writer.puts == 3  # two met a conflict, the third went through
    assert f"restored ConfigMap {namespace}/held after 2 conflicts" in done, done
    assert f"deleted ConfigMap {namespace}/extra" in done
    with connect(cluster) as api:
        live = api.get(path) or {}
        assert live["data"] == {"value": "before"}


def test_restore_that_still_conflicts_says_what_is_left(
    cluster: SandboxInfo, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/held"
    writer = ConcurrentWriter(cluster, path, times=1000)

    async def work(client: KubeClient) -> str:
        entries = await _updated_and_created(client, namespace)
        client._http.event_hooks["request"].append(writer)
        with pytest.raises(ActionError) as raised:
            await rollback.restore(client, entries)
        return str(raised.value)

    message = with_client(cluster, namespace, work)
    assert writer.puts == rollback.CONFLICT_ATTEMPTS  # bounded
    assert f"deleted ConfigMap {namespace}/extra" in message  # what was undone
    assert f"not undone: ConfigMap {namespace}/held" in message  # what is left, and why
    assert "409 Conflict" in message and f"{rollback.CONFLICT_ATTEMPTS} attempts" in message
    with connect(cluster) as api:
        assert (api.get(path) or {})["data"] == {"value": "after"}
        assert api.get(f"/api/v1/namespaces/{namespace}/configmaps/extra") is None
