"""Which objects go in which apply wave, and which kinds a CRD manifest will serve."""

from __future__ import annotations

from typing import Any

from phasegate.kube import crd_waves
from phasegate.kube.manifests import Manifest


def _manifest(kind: str, name: str, **spec: Any) -> Manifest:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    if spec:
        obj["spec"] = spec
    return Manifest(obj, f"{name}.yaml#1")


def test_namespaces_and_crds_go_first_and_order_is_kept_within_a_wave() -> None:
    loaded = [_manifest("ConfigMap", "a"), _manifest("CustomResourceDefinition", "x.y"),
              _manifest("Namespace", "n"), _manifest("Service", "b")]
    waves = crd_waves.waves(loaded)
    assert [[m.name for m in wave] for wave in waves] == [["x.y", "n"], ["a", "b"]]
    assert crd_waves.waves([_manifest("ConfigMap", "a")]) == [[_manifest("ConfigMap", "a")]]
    assert crd_waves.waves([]) == []


def test_a_crd_serves_its_kind_in_every_served_version_with_its_scope() -> None:
    crd = _manifest("CustomResourceDefinition", "widgets.example.com", group="example.com",
                    scope="Cluster", names={"plural": "widgets", "kind": "Widget"},
                    versions=[{"name": "v1", "served": True}, {"name": "v1beta1",
                                                               "served": False}])
    kinds = crd_waves.planned_kinds([crd, _manifest("ConfigMap", "c")])
    assert list(kinds) == [("example.com/v1", "Widget")]
    served = kinds["example.com/v1", "Widget"]
    assert (served.crd, served.namespaced, served.source) == (
        "widgets.example.com", False, "widgets.example.com.yaml#1")
    assert crd_waves.served_kinds({"kind": "CustomResourceDefinition", "spec": {}}) == []
