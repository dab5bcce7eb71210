"""Rollback fidelity: after a real phasegate run whose gate fails, every object the phase
changed equals its state before the phase (spec, labels, annotations with kubectl's
last-applied-configuration, owner references, finalizers: all but status and the metadata
the server keeps), objects it created are gone, and what could not be put back is said."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox.api import wait_for
from phasegate.workflow import rollback
from tests.integration import rollback_objects as objects
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import held_image, with_client, write_yaml
from tests.integration.workflow_helpers import args

pytestmark = pytest.mark.cluster


def _failing_plan(tmp_path: Path, namespace: str) -> str:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: fidelity}\n"
        f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
        "phases:\n  - name: change\n    apply: phase.yaml\n"
        "    gate: [{k8s.exists: {kind: ConfigMap, name: never-there}}]\n    timeout: 1s\n"
        "    rollback: auto\n")
    return str(plan)


def test_rollback_restores_every_kind_as_it_was(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    image = held_image(cluster)
    with connect(cluster) as api:
        objects.install_crd(api, namespace)
        objects.write_before(api, namespace, image)
        paths = [objects.path_of(o) for o in (*objects.by_kubectl(namespace),
                                              *objects.by_phasegate(namespace, image))]
        before = {path: objects.comparable(api.get(path) or {}) for path in paths}
        owner = before[objects.path_of(objects.by_kubectl(namespace)[3])]["metadata"]["uid"]
    changes = objects.phase_changes(namespace, image, owner)
    write_yaml(tmp_path / "phase.yaml", *changes)

    result = phasegate("apply", _failing_plan(tmp_path, namespace), "--yes", "--json",
                       *args(cluster, tmp_path, namespace))
    assert result.returncode == 1, result.stdout + result.stderr
    detail = json.loads(result.stdout)["detail"]
    assert "rolled back" in detail, detail

    with connect(cluster) as api:
        after = {path: objects.comparable(api.get(path) or {}) for path in paths}
        for created in changes[-2:]:
            assert api.get(objects.path_of(created)) is None, created["metadata"]["name"]
    rotated = f"/api/v1/namespaces/{namespace}/secrets/rotated"
    # a Secret's old values are never kept: the one value the phase changed stays changed
    assert after[rotated]["data"]["password"] == base64.b64encode(
        b"after-rotation-5532").decode()
    after[rotated]["data"]["password"] = before[rotated]["data"]["password"]
    differing = {path: (before[path], after[path]) for path in paths
                 if after[path] != before[path]}
    assert not differing, json.dumps(differing, indent=1)
    assert (f"restored Secret {namespace}/rotated except the value of password not restored "
            "(a Secret's values are never kept)") in detail, detail
    assert f"restored Secret {namespace}/creds," in detail, detail  # its values never changed
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("e.db"))
    for value in ("kept-by-kubectl-4411", "before-rotation-9021", "after-rotation-5532"):
        assert value.encode() not in stored
        assert base64.b64encode(value.encode()) not in stored


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
