"""Objects of many kinds as they stood before a phase, written the ways real clients write
them, and the phase that changes them: shared by the rollback fidelity tests.

Two writers make the "before" state: ``kubectl apply`` (client-side: a POST carrying the
``kubectl.kubernetes.io/last-applied-configuration`` annotation, field manager
``kubectl-client-side-apply``) and an earlier phasegate run (server-side apply, field manager
``phasegate``). A phase may change values only of fields phasegate owns; on the kubectl
objects it adds fields, labels, annotations, owner references and finalizers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from phasegate.sandbox import Api
from phasegate.sandbox.api import wait_for

Json = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# kept by a controller, not by the object's owner: the deployment controller numbers the
# ReplicaSet it rolls back to as a new revision
CONTROLLER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def crd_group(namespace: str) -> str:
    return f"{namespace}.phasegate.test"


def install_crd(api: Api, namespace: str) -> None:
    group = crd_group(namespace)
    api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}})
    wait_for(f"the Widget kind of {group} served",
             lambda: (api.get(f"/apis/{group}/v1") or {}).get("resources") is not None, 30)


def _kubectl_style(obj: Json) -> Json:
    """``obj`` as ``kubectl apply`` (client-side) sends it: the annotation holds the
    manifest itself, compact, as kubectl writes it."""
    sent = copy.deepcopy(obj)
    sent["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(
        obj, separators=(",", ":")) + "\n"
    return sent


def _pod_template(app: str, value: str, image: str) -> Json:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": app, "image": image,
                                     "env": [{"name": "MODE", "value": value}]}]}}


def by_kubectl(namespace: str) -> list[Json]:
    ns = {"namespace": namespace}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "conf", **ns, "labels": {"team": "shop"}},
         "data": {"mode": "blue"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned", **ns},
         "data": {"k": "v"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", **ns},
         "type": "Opaque", "stringData": {"password": "kept-by-kubectl-4411"}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "robot", **ns, "annotations": {"team": "shop"}}},
    ]


def by_phasegate(namespace: str, image: str) -> list[Json]:
    ns = {"namespace": namespace}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "rotated", **ns},
         "stringData": {"password": "before-rotation-9021", "user": "shop"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", **ns},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "api"}},
                  "template": _pod_template("api", "before", image)}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", **ns},
         "spec": {"replicas": 0, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                  "template": _pod_template("db", "before", image)}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", **ns},
         "spec": {"selector": {"app": "api"},
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "reader", **ns},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "reader", **ns},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": namespace}]},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", **ns},
         "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
             "restartPolicy": "Never",
             "containers": [{"name": "job", "image": image}]}}}}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "front", **ns},
         "spec": {"rules": [{"host": "shop.example", "http": {"paths": [
             {"path": "/", "pathType": "Prefix", "backend": {
                 "service": {"name": "web", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": f"{crd_group(namespace)}/v1", "kind": "Widget",
         "metadata": {"name": "one", **ns}, "spec": {"size": 1}},
    ]


def write_before(api: Api, namespace: str, image: str) -> None:
    for obj in by_kubectl(namespace):
        response = api.request("POST", path_of(obj).rsplit("/", 1)[0], _kubectl_style(obj),
                               params={"fieldManager": "kubectl-client-side-apply"})
        response.raise_for_status()
    for obj in by_phasegate(namespace, image):
        api.request("PATCH", path_of(obj), obj, content_type="application/apply-patch+yaml",
                    params={"fieldManager": "phasegate", "force": "true"}).raise_for_status()


def phase_changes(namespace: str, image: str, owner_uid: str) -> list[Json]:
    """What the phase applies (server-side, as phasegate): changes to every object above,
    and two objects it creates."""
    ns = {"namespace": namespace}
    added = {"labels": {"phase/added": "yes"}, "annotations": {"phase/note": "added"}}
    changed = {obj["metadata"]["name"] + obj["kind"]: obj
               for obj in copy.deepcopy(by_phasegate(namespace, image))}
    changed["rotatedSecret"]["stringData"]["password"] = "after-rotation-5532"
    changed["rotatedSecret"]["stringData"]["token"] = "added-by-the-phase"
    changed["apiDeployment"]["spec"]["template"] = _pod_template("api", "after", image)
    changed["apiDeployment"]["spec"]["template"]["metadata"]["annotations"] = {"phase": "x"}
    changed["dbStatefulSet"]["spec"]["template"] = _pod_template("db", "after", image)
    changed["webService"]["spec"]["ports"] = [
        {"name": "http", "port": 8080, "targetPort": 8080},
        {"name": "admin", "port": 9090, "targetPort": 9090}]
    changed["readerRole"]["rules"].append(
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})
    changed["readerRoleBinding"]["subjects"].append(
        {"kind": "ServiceAccount", "name": "default", "namespace": namespace})
    changed["nightlyCronJob"]["spec"].update(schedule="*/5 * * * *", suspend=True)
    changed["frontIngress"]["spec"]["rules"][0]["host"] = "shop.example.org"
    changed["oneWidget"]["spec"] = {"size": 3, "color": "red"}
    for obj in changed.values():
        for key, values in added.items():
            obj["metadata"].setdefault(key, {}).update(values)
    return [
        *changed.values(),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", **ns, **added},
         "data": {"added": "by the phase"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "owned", **ns, "finalizers": ["phasegate.test/hold"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ServiceAccount",
                                 "name": "robot", "uid": owner_uid}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", **ns, **added},
         "stringData": {"extra": "added-by-the-phase"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", **ns},
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new-conf", **ns},
         "data": {"created": "by the phase"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "new-api", **ns},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "new-api"}},
                  "template": _pod_template("new-api", "new", image)}},
    ]


def path_of(obj: Json) -> str:
    group_version = obj["apiVersion"]
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    plural = {"Ingress": "ingresses", "Widget": "widgets"}.get(
        obj["kind"], obj["kind"].lower() + "s")
    return f"{base}/namespaces/{obj['metadata']['namespace']}/{plural}/{obj['metadata']['name']}"


def comparable(obj: Json) -> Json:
    """Everything the user owns: not the status, not the metadata the server keeps."""
    kept = {k: v for k, v in copy.deepcopy(obj).items() if k != "status"}
    metadata = kept["metadata"]
    for key in ("resourceVersion", "managedFields", "generation", "creationTimestamp"):
        metadata.pop(key, None)
    for key in CONTROLLER_ANNOTATIONS:
        (metadata.get("annotations") or {}).pop(key, None)
    if metadata.get("annotations") == {}:
        del metadata["annotations"]
    return kept


def owners(obj: Json) -> list[tuple[str, ...]]:
    """Who owns which fields (server-side apply's managedFields), without the times."""
    return sorted((entry.get("manager", ""), entry.get("operation", ""),
                   entry.get("subresource", ""), json.dumps(entry.get("fieldsV1"), sort_keys=True))
                  for entry in obj["metadata"].get("managedFields") or []
                  if not entry.get("subresource"))  # status: the controllers'
