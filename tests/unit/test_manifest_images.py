"""Images found in manifests: pod specs at any depth, CRD fields, nothing from text data."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.errors import PlanError
from phasegate.plan import manifest_images

MANIFESTS = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: p, annotations: {image: "annotated:1"}}
    spec:
      containers: [{name: a, image: "reg.io/a:1"}]
      initContainers: [{name: i, image: "reg.io/init:1"}]
      ephemeralContainers: [{name: e, image: "busybox:1.36"}]
---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s}
spec: {image: "quay.io/prometheus/prometheus:v2.54.0"}
---
apiVersion: example.com/v1
kind: App
metadata: {name: helmish}
spec:
  image: {registry: reg.io, repository: team/app, tag: "2.0"}
  sidecar: {image: {repository: team/side, digest: "sha256:%s"}}
  templated: {image: "reg.io/x:${input.tag}"}
  unknown: {image: "reg.io/y:${input.nope}"}
  go: {image: "{{ .Values.image }}"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {image: "reg.io/not-this:1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: dup}
spec: {template: {spec: {containers: [{name: a, image: "reg.io/a:1"}]}}}
""" % ("c" * 64)


def test_images_found_where_kubernetes_and_operators_keep_them(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "all.yaml").write_text(MANIFESTS)
    (tmp_path / "m" / "README.md").write_text("image: ignored")
    found = manifest_images.find(["m"], tmp_path, {"tag": "3.1"})
    assert [f.ref for f in found] == [
        "reg.io/a:1", "reg.io/init:1", "busybox:1.36", "quay.io/prometheus/prometheus:v2.54.0",
        "reg.io/team/app:2.0", f"team/side@sha256:{'c' * 64}", "reg.io/x:3.1",
    ]
    assert found[0].path == "List/? items[0] Pod/p spec.containers[0].image"
    assert found[0].file == tmp_path / "m" / "all.yaml"


def test_missing_manifest_path_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="manifest path not found"):
        manifest_images.find(["nope.yaml"], tmp_path)
