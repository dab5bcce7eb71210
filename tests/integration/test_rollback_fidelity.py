"""Rollback fidelity: after a real phasegate run whose gate fails, every object the phase
changed equals its state before the phase (spec, labels, annotations with kubectl's
last-applied-configuration, owner references, finalizers: all but status and the metadata
the server keeps), objects it created are gone, and what could not be put back is said."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox.api import wait_for
from tests.integration import rollback_objects as objects
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import held_image, write_yaml
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
        live_before = {path: api.get(path) or {} for path in paths}
        before = {path: objects.comparable(obj) for path, obj in live_before.items()}
        owned_before = {path: objects.owners(obj) for path, obj in live_before.items()}
        owner = before[objects.path_of(objects.by_kubectl(namespace)[3])]["metadata"]["uid"]
    changes = objects.phase_changes(namespace, image, owner)
    write_yaml(tmp_path / "phase.yaml", *changes)

    result = phasegate("apply", _failing_plan(tmp_path, namespace), "--yes", "--json",
                       *args(cluster, tmp_path, namespace))
    assert result.returncode == 1, result.stdout + result.stderr
    detail = json.loads(result.stdout)["detail"]
    assert "rolled back" in detail, detail

    with connect(cluster) as api:
        live_after = {path: api.get(path) or {} for path in paths}
        for created in changes[-2:]:
            assert api.get(objects.path_of(created)) is None, created["metadata"]["name"]
        # each field is owned as before, so applying the phase again without force meets
        # no conflict with the rollback's own writes
        reapplied = {objects.path_of(change): api.request(
            "PATCH", objects.path_of(change), change, params={"fieldManager": "phasegate"},
            content_type="application/apply-patch+yaml") for change in changes[:-2]}
    owned_after = {path: objects.owners(obj) for path, obj in live_after.items()}
    assert owned_after == owned_before, json.dumps(
        {p: (owned_before[p], owned_after[p]) for p in paths
         if owned_after[p] != owned_before[p]}, indent=1)
    assert {path: r.status_code for path, r in reapplied.items() if r.status_code >= 400} == {}
    after = {path: objects.comparable(obj) for path, obj in live_after.items()}
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


def test_a_field_the_api_will_not_change_back_is_kept_and_named(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    """A bound claim's size can only grow: the rollback restores the rest of the claim (a
    label the phase added is removed) and names the size it could not shrink."""
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "data", "namespace": namespace},
             "spec": {"storageClassName": namespace, "accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "1Gi"}}}}
    path = objects.path_of(claim)
    with connect(cluster) as api:
        api.create("/apis/storage.k8s.io/v1/storageclasses", {
            "metadata": {"name": namespace}, "provisioner": "kubernetes.io/no-provisioner",
            "allowVolumeExpansion": True, "volumeBindingMode": "Immediate"})
        api.create("/api/v1/persistentvolumes", {"metadata": {"name": namespace}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "storageClassName": namespace, "hostPath": {"path": f"/tmp/{namespace}"},
            "claimRef": {"namespace": namespace, "name": "data"}}})
        api.request("PATCH", path, claim, content_type="application/apply-patch+yaml",
                    params={"fieldManager": "phasegate", "force": "true"}).raise_for_status()
        wait_for("the claim bound", lambda: (api.get(path) or {}).get(
            "status", {}).get("phase") == "Bound", 30)
        before = objects.comparable(api.get(path) or {})
    grown = json.loads(json.dumps(claim))
    grown["metadata"]["labels"] = {"phase/added": "yes"}
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    write_yaml(tmp_path / "phase.yaml", grown)

    result = phasegate("apply", _failing_plan(tmp_path, namespace), "--yes", "--json",
                       *args(cluster, tmp_path, namespace))
    assert result.returncode == 1, result.stdout + result.stderr
    detail = json.loads(result.stdout)["detail"]
    with connect(cluster) as api:
        after = objects.comparable(api.get(path) or {})
        api.request("DELETE", f"/api/v1/persistentvolumes/{namespace}")
        api.request("DELETE", f"/apis/storage.k8s.io/v1/storageclasses/{namespace}")
    assert after["spec"]["resources"]["requests"]["storage"] == "2Gi"
    after["spec"]["resources"]["requests"]["storage"] = "1Gi"
    assert after == before  # the label the phase added is gone
    assert (f"restored PersistentVolumeClaim {namespace}/data except "
            "spec.resources.requests.storage kept as it is now (the API refuses to change "
            "it back:") in detail, detail
