"""Rollback deletes what the phase created by UID, not by name: a same-named object made by
someone else meanwhile is not the phase's, is left as it is, and the rollback says so.
Someone else is a second, real API client."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox.api import wait_for
from phasegate.workflow import rollback
from tests.integration.k8s_helpers import with_client

pytestmark = pytest.mark.cluster


def _journal_entry(applied: apply.Applied) -> dict[str, Any]:
    meta = applied.live["metadata"]
    return {"ref": applied.ref, "action": applied.action, "previous": applied.previous,
            "apiVersion": applied.live["apiVersion"], "kind": applied.live["kind"],
            "name": meta["name"], "namespace": meta.get("namespace"), "uid": meta["uid"]}


def _config_map(name: str, **metadata: Any) -> manifests.Manifest:
    return manifests.Manifest({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": name, **metadata},
                               "data": {"by": "the phase"}}, "test")


def test_a_created_object_made_again_by_someone_else_is_not_deleted(
    cluster: SandboxInfo, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/extra"

    async def work(client: KubeClient) -> str:
        created = await apply.apply_one(client, _config_map("extra"), namespace)
        with connect(cluster) as api:  # someone else replaces it under the same name
            api.request("DELETE", path).raise_for_status()
            api.create(path.rsplit("/", 1)[0], {"metadata": {"name": "extra"},
                                                "data": {"by": "someone else"}})
        return await rollback.restore(client, [_journal_entry(created)])

    done = with_client(cluster, namespace, work)
    with connect(cluster) as api:
        survivor = api.get(path) or {}
    assert survivor.get("data") == {"by": "someone else"}
    assert (f"ConfigMap {namespace}/extra not deleted: the one the phase created" in done
            and f"held by UID {survivor['metadata']['uid']}" in done), done


def test_deletion_is_awaited_by_uid_not_by_name(cluster: SandboxInfo, namespace: str) -> None:
    """The phase's object is held by a finalizer; when it is released someone else makes
    a same-named object at once: the wait ends (ours is gone), it does not wait for the
    name to be free."""
    path = f"/api/v1/namespaces/{namespace}/configmaps/held"

    def release_and_replace() -> None:
        with connect(cluster) as api:
            wait_for("the deletion to start",
                     lambda: "deletionTimestamp" in (api.get(path) or {}).get("metadata", {}),
                     10)
            api.request("PATCH", path, {"metadata": {"finalizers": None}},
                        content_type="application/merge-patch+json").raise_for_status()
            api.create(path.rsplit("/", 1)[0], {"metadata": {"name": "held"},
                                                "data": {"by": "someone else"}})

    async def work(client: KubeClient) -> str:
        created = await apply.apply_one(
            client, _config_map("held", finalizers=["phasegate.test/hold"]), namespace)
        releaser = threading.Thread(target=release_and_replace)
        releaser.start()
        try:
            return await rollback.restore(client, [_journal_entry(created)])
        finally:
            releaser.join()

    started = time.monotonic()
    done = with_client(cluster, namespace, work)
    assert time.monotonic() - started < 20, done
    with connect(cluster) as api:
        assert (api.get(path) or {}).get("data") == {"by": "someone else"}
    assert f"deleted ConfigMap {namespace}/held" in done or "held by UID" in done, done


def test_an_updated_object_made_again_by_someone_else_is_left_and_said(
    cluster: SandboxInfo, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/shared"

    async def work(client: KubeClient) -> str:
        await apply.apply_one(client, _config_map("shared"), namespace)
        updated = await apply.apply_one(client, _config_map("shared", labels={"a": "b"}),
                                        namespace)
        with connect(cluster) as api:
            api.request("DELETE", path).raise_for_status()
            api.create(path.rsplit("/", 1)[0], {"metadata": {"name": "shared"},
                                                "data": {"by": "someone else"}})
        return await rollback.restore(client, [_journal_entry(updated)])

    done = with_client(cluster, namespace, work)
    with connect(cluster) as api:
        assert (api.get(path) or {}).get("data") == {"by": "someone else"}
    assert f"ConfigMap {namespace}/shared not restored: it was deleted and made again" in done


def test_the_rehearsal_deletes_nothing(cluster: SandboxInfo, namespace: str) -> None:
    """The rollback rehearsal (validation) sends the delete of a created object with its
    UID precondition as a dry run: the server only validates it."""
    path = f"/api/v1/namespaces/{namespace}/configmaps/kept"

    async def work(client: KubeClient) -> str:
        created = await apply.apply_one(client, _config_map("kept"), namespace)
        return await rollback.restore(client, [_journal_entry(created)], dry_run=True)

    done = with_client(cluster, namespace, work)
    assert f"deleted ConfigMap {namespace}/kept" in done, done
    with connect(cluster) as api:
        assert api.get(path) is not None, "the rehearsal deleted the object"
