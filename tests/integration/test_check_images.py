"""``phasegate check`` asks about every image a plan would pull, from its manifests too."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.fixtures.registry import Pushed
from tests.integration.cli_helpers import phasegate

PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {{name: images}}
assumptions:
  images: ["{host}/shop/api:1.4.2"]
phases:
  - name: app
    apply: manifests/
"""

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: api, annotations: {{image: "not/an image"}}}}
spec:
  template:
    spec:
      initContainers: [{{name: migrate, image: "{host}/shop/multi:1.0"}}]
      containers:
        - {{name: api, image: "{host}/shop/api:1.4.2"}}
        - {{name: web, image: "{host}/shop/web:2.0"}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: report}}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{{name: report, image: "{host}/shop/api:9.9.9"}}]
---
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {{name: db}}
spec: {{instances: 1, imageName: "{host}/public/base:1"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: notes}}
data: {{image: "{host}/not/pulled:1"}}
"""


def test_check_verifies_assumed_and_manifest_images(registry: Pushed, tmp_path: Path) -> None:
    r = registry.registry
    (tmp_path / "plan.yaml").write_text(PLAN.format(host=r.host))
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "app.yaml").write_text(MANIFESTS.format(host=r.host))
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{r.username}:{r.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {r.host: {"auth": auth}}}))
    env = {"DOCKER_CONFIG": str(docker), "SSL_CERT_FILE": str(r.ca)}  # as a user's machine has
    store = ["--store", str(tmp_path / "e.db")]

    result = phasegate("check", str(tmp_path / "plan.yaml"), *store, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    run_id = json.loads(phasegate("runs", "--json", *store).stdout)["runs"][0]["id"]
    out = tmp_path / "evidence.json"
    assert phasegate("evidence", run_id[:15], "--format", "json", "-o", str(out), *store
                     ).returncode == 0
    checks = {c["name"]: c for c in json.loads(out.read_text())["steps"][0]["checks"]}
    assert set(checks) == {f"image {r.host}/{ref}" for ref in (
        "shop/api:1.4.2", "shop/multi:1.0", "shop/web:2.0", "shop/api:9.9.9", "public/base:1")}
    failed = {name: c["observed"] for name, c in checks.items() if not c["passed"]}
    assert failed == {f"image {r.host}/shop/api:9.9.9": "tag not found: 9.9.9 in shop/api"}
    assert r.password not in out.read_text() and auth not in out.read_text()


MIRRORED_PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {{name: mirrored}}
target:
  imageMirrors: {{docker.io/shop: "{host}/shop"}}
phases:
  - name: app
    apply: app.yaml
"""

MIRRORED_APP = """\
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - {name: api, image: "shop/api:1.4.2"}
    - {name: old, image: "docker.io/shop/api:9.9.9"}
"""


def test_check_asks_the_mirror_and_names_both(registry: Pushed, tmp_path: Path) -> None:
    r = registry.registry
    (tmp_path / "plan.yaml").write_text(MIRRORED_PLAN.format(host=r.host))
    (tmp_path / "app.yaml").write_text(MIRRORED_APP)
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{r.username}:{r.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {r.host: {"auth": auth}}}))
    env = {"DOCKER_CONFIG": str(docker), "SSL_CERT_FILE": str(r.ca)}

    result = phasegate("--json", "check", str(tmp_path / "plan.yaml"),
                       "--store", str(tmp_path / "e.db"), env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    found = {o["name"]: o for o in json.loads(result.stdout)["observations"]}
    good, old = (found[f"image docker.io/shop/api:{tag} via mirror {r.host}/shop/api:{tag}"]
                 for tag in ("1.4.2", "9.9.9"))
    assert good["passed"], good
    assert good["data"]["upstream"] == "docker.io/shop/api:1.4.2"
    assert good["data"]["mirror"] == f"{r.host}/shop/api:1.4.2"
    assert good["expected"] == (f"{r.host}/shop/api:1.4.2 resolves "
                                "(the mirror of docker.io/shop/api:1.4.2)")
    assert good["data"]["digest"] == registry.digests["shop/api:1.4.2"]
    assert not old["passed"]
    assert old["observed"] == "tag not found: 9.9.9 in shop/api (in the mirror)"
    assert "phasegate images mirror" in old["detail"]
