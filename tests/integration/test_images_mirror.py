"""``phasegate images mirror``: the sandbox's registry mirrored into a second, real
docker-registry (TLS, htpasswd), and stage R following the images to the mirror."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from phasegate.sandbox import SandboxInfo
from phasegate.sandbox import registry as sandbox_registry
from phasegate.store.evidence import EvidenceStore
from tests.fixtures import oci_layout
from tests.fixtures.registry import Registry, RegistryPKI, htpasswd, need, start_registry
from tests.integration.cli_helpers import phasegate
from tests.integration.public_material import public

pytestmark = pytest.mark.cluster

ACCEPT = ", ".join((oci_layout.OCI_INDEX, oci_layout.OCI_MANIFEST,
                    "application/vnd.docker.distribution.manifest.v2+json"))


@dataclass(frozen=True)
class Setup:
    source: str  # the sandbox registry, 127.0.0.1:PORT
    mirror: Registry
    repo: str  # this module's repository prefix in the source
    multi_digest: str  # the multi-arch index pushed to the source
    env: dict[str, str]


@pytest.fixture(scope="module")
def setup(cluster: SandboxInfo, registry_pki: RegistryPKI,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    assert cluster.registry is not None
    workdir = tmp_path_factory.mktemp("mirror-registry")
    password = secrets.token_urlsafe(12)
    htpasswd(workdir / "htpasswd", {"mirror": password})
    auth = {"htpasswd": {"realm": "mirror", "path": str(workdir / "htpasswd")}}
    mirror = start_registry(workdir, "mirror", registry_pki.ca.pem, registry_pki.server,
                            workdir / "storage", auth)
    mirror.username, mirror.password = "mirror", password
    repo = f"m{uuid.uuid4().hex[:8]}"
    built = oci_layout.build(workdir / "layout", "multi", ["linux/amd64", "linux/arm64"],
                             content=repo)
    digest_file = workdir / "multi.digest"
    subprocess.run(
        [need("skopeo"), "--insecure-policy", "copy", "--quiet", "--all",
         "--digestfile", str(digest_file),
         "--dest-cert-dir", str(sandbox_registry.certs_dir(cluster.registry)),
         f"oci:{built.layout}:{built.tag}", f"docker://{cluster.registry}/{repo}/multi:1"],
        check=True, capture_output=True, timeout=60)
    docker = workdir / "docker"
    docker.mkdir()
    basic = base64.b64encode(f"mirror:{password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {mirror.host: {"auth": basic}}}))
    # the mirror's CA as a user's machine trusts it; the sandbox's is in certs.d already
    env = {"DOCKER_CONFIG": str(docker), "SSL_CERT_FILE": str(registry_pki.ca.pem)}
    try:
        yield Setup(cluster.registry, mirror, repo, digest_file.read_text().strip(), env)
    finally:
        mirror.stop()
        shutil.rmtree(workdir / "storage", ignore_errors=True)


PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {{name: mirrored}}
target:
  imageMirrors:
    "{source}": "{mirror}/sandbox"
    "{source}/shop/web": "{source}/{repo}/web-copy"
assumptions:
  images: ["{source}/{repo}/multi:1"]
tracers:
  - name: db
    apply: tracer.yaml
phases:
  - name: app
    apply: app.yaml
"""

TRACER = """\
apiVersion: v1
kind: Pod
metadata: {{name: db}}
spec:
  containers: [{{name: db, image: "{source}/shop/db:16"}}]
"""

APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  selector: {{matchLabels: {{app: a}}}}
  template:
    metadata: {{labels: {{app: a}}}}
    spec:
      containers:
        - {{name: api, image: "{source}/shop/api:1.4.2"}}
        - {{name: web, image: "{source}/shop/web:1.0"}}
        - {{name: again, image: "{source}/{repo}/multi:1"}}
"""


def write_plan(directory: Path, setup: Setup, app: str = APP) -> Path:
    names = {"source": setup.source, "mirror": setup.mirror.host, "repo": setup.repo}
    (directory / "tracer.yaml").write_text(TRACER.format(**names))
    (directory / "app.yaml").write_text(app.format(**names))
    plan = directory / "plan.yaml"
    plan.write_text(PLAN.format(**names))
    return plan


def served(setup: Setup, host: str, repository: str, ref: str) -> tuple[int, bytes]:
    """What a registry serves for a manifest, read without phasegate."""
    context = ssl.create_default_context(cafile=setup.env["SSL_CERT_FILE"])
    if host == setup.source:
        context.load_verify_locations(
            cafile=str(sandbox_registry.certs_dir(host) / "ca.crt"))
    auth = (setup.mirror.username, setup.mirror.password) if host == setup.mirror.host else None
    response = httpx.get(f"https://{host}/v2/{repository}/manifests/{ref}", verify=context,
                         auth=auth, headers={"Accept": ACCEPT})
    return response.status_code, response.content


def test_mirror_copies_whole_then_skips_and_stage_r_follows(setup: Setup,
                                                            tmp_path: Path) -> None:
    plan = write_plan(tmp_path, setup)
    store = ["--store", str(tmp_path / "e.db")]
    m, repo = setup.mirror.host, setup.repo

    before = phasegate("--json", "check", str(plan), *store, env=setup.env)
    assert before.returncode == 1, before.stdout + before.stderr
    observed = {o["name"]: o for o in json.loads(before.stdout)["observations"]}
    multi = observed[f"image {setup.source}/{repo}/multi:1 via mirror {m}/sandbox/{repo}/multi:1"]
    assert multi["observed"] == f"repository not found: sandbox/{repo}/multi (in the mirror)"

    dry = phasegate("--json", "images", "mirror", str(plan), "--dry-run", *store, env=setup.env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    planned = {i["upstream"]: i for i in json.loads(dry.stdout)["images"]}
    assert len(planned) == 4  # the index is named twice, copied once
    assert all(i["outcome"] == "copied" and i["observed"].startswith("would copy")
               for i in planned.values()), planned
    assert served(setup, m, f"sandbox/{repo}/multi", "1")[0] == 404  # nothing written

    first = phasegate("--json", "images", "mirror", str(plan), *store, env=setup.env)
    assert first.returncode == 0, first.stdout + first.stderr
    document = json.loads(first.stdout)
    assert next(iter(document)) == "schema_version"
    images = {i["upstream"]: i for i in document["images"]}
    index = images[f"{setup.source}/{repo}/multi:1"]
    assert index["mirror"] == f"{m}/sandbox/{repo}/multi:1"
    assert index["digest"] == setup.multi_digest
    assert len(index["manifests_copied"]) == 3  # both platforms' manifests, then the index
    assert index["manifests_copied"][-1] == setup.multi_digest and index["tagged"]
    assert len(index["blobs_copied"]) == 4  # a config and a layer per platform
    web = images[f"{setup.source}/shop/web:1.0"]
    assert web["mirror"] == f"{setup.source}/{repo}/web-copy:1.0"  # longest prefix wins
    assert web["blobs_mounted"] and not web["blobs_copied"]  # same registry: mounted
    assert set(images) >= {f"{setup.source}/shop/db:16", f"{setup.source}/shop/api:1.4.2"}
    assert "blob sha256:" in first.stderr and "copied" in first.stderr  # progress on stderr

    status, body = served(setup, m, f"sandbox/{repo}/multi", "1")
    assert status == 200 and f"sha256:{hashlib.sha256(body).hexdigest()}" == setup.multi_digest
    for child in json.loads(body)["manifests"]:
        assert served(setup, m, f"sandbox/{repo}/multi", child["digest"])[0] == 200
    for upstream, image in images.items():
        name = image["mirror"].split("/", 1)[1].rsplit(":", 1)[0]
        source_repo = upstream.split("/", 1)[1].rsplit(":", 1)[0]
        host = image["mirror"].split("/", 1)[0]
        _, source_body = served(setup, setup.source, source_repo, upstream.rsplit(":", 1)[1])
        assert served(setup, host, name, image["digest"]) == (200, source_body)  # digests kept

    evidence = EvidenceStore(str(tmp_path / "e.db"))
    bundle = evidence.load(document["run_id"])
    assert bundle.run.command == "images mirror" and bundle.run.status == "passed"
    assert [s.kind for s in bundle.steps] == ["mirror"] * 4
    recorded = {o.data["upstream"]: o for s in bundle.steps for o in s.observations}
    assert recorded[f"{setup.source}/{repo}/multi:1"].data["digest"] == setup.multi_digest
    assert {a.name for a in bundle.artifacts} == {"mirrored"}
    everything = json.dumps([o.to_dict() for o in recorded.values()]) + "".join(
        a.content for a in bundle.artifacts)
    assert setup.mirror.password not in everything + first.stdout + first.stderr
    evidence.close()

    report = phasegate("evidence", document["run_id"], "-f", "md", *store)
    assert report.returncode == 0, report.stdout + report.stderr
    assert f"mirror {setup.source}/{repo}/multi:1" in report.stdout
    assert setup.multi_digest in report.stdout

    second = phasegate("images", "mirror", str(plan), *store, env=setup.env)
    assert second.returncode == 0, second.stdout + second.stderr
    print(second.stdout)  # what people read, shown when the test fails
    assert "4 image(s) copied" not in second.stdout and "4 already in the mirror" in second.stdout
    second = phasegate("--json", "images", "mirror", str(plan), *store, env=setup.env)
    assert second.returncode == 0, second.stdout + second.stderr
    again = json.loads(second.stdout)["images"]
    assert [i["outcome"] for i in again] == ["present"] * 4
    assert not any(i["blobs_copied"] or i["manifests_copied"] or i["blobs_mounted"]
                   for i in again)
    assert all(i["observed"].startswith("already there: sha256:") for i in again)

    after = phasegate("--json", "check", str(plan), *store, env=setup.env)
    assert after.returncode == 0, after.stdout + after.stderr
    checked = {o["name"]: o for o in json.loads(after.stdout)["observations"]}
    multi = checked[f"image {setup.source}/{repo}/multi:1 via mirror {m}/sandbox/{repo}/multi:1"]
    assert multi["data"]["digest"] == setup.multi_digest
    assert multi["data"]["upstream"] == f"{setup.source}/{repo}/multi:1"


def test_a_missing_source_image_fails_its_step_and_the_rest_is_copied(
    setup: Setup, tmp_path: Path
) -> None:
    app = APP.replace("shop/api:1.4.2", "shop/api:0.0.404")
    plan = write_plan(tmp_path, setup, app)
    store = ["--store", str(tmp_path / "e.db")]

    result = phasegate("--json", "images", "mirror", str(plan), *store, env=setup.env)
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    images = {i["upstream"]: i for i in document["images"]}
    missing = images[f"{setup.source}/shop/api:0.0.404"]
    assert not missing["passed"] and missing["outcome"] == "source_not_found"
    assert missing["observed"] == (f"source image not found: {setup.source}/shop/api:0.0.404 "
                                   f"({setup.source} answered 404 for its manifest)")
    assert all(i["passed"] for name, i in images.items() if name != missing["upstream"])
    bundle = EvidenceStore(str(tmp_path / "e.db")).load(document["run_id"])
    assert bundle.run.status == "failed"
    assert "shop/api:0.0.404" in bundle.run.summary
    assert [s.status for s in bundle.steps].count("failed") == 1


def test_a_plan_without_mirrors_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: plain}\n"
        "assumptions: {images: [nginx]}\n")
    result = phasegate("images", "mirror", str(tmp_path / "plan.yaml"),
                       "--store", str(tmp_path / "e.db"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "names no imageMirrors" in result.stderr
    assert not (tmp_path / "e.db").exists() or not EvidenceStore(
        str(tmp_path / "e.db")).runs()


def test_the_images_a_chart_renders_are_mirrored_too(
    setup: Setup, helm_binary: str, tmp_path: Path
) -> None:
    """A helm phase's images come from its rendered chart (with its values), not from any
    file of the plan: ``images mirror`` still finds and copies them."""
    chart = public("podinfo-chart")
    names = {"source": setup.source, "mirror": setup.mirror.host, "repo": setup.repo}
    (tmp_path / "values.yaml").write_text(
        "image: {{repository: '{source}/{repo}/multi', tag: '1'}}\n".format(**names))
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {{name: charted}}\n"
        "target:\n  imageMirrors: {{'{source}/{repo}': '{mirror}/charts/{repo}'}}\n"
        "phases:\n  - name: web\n    helm: {{release: web, path: {chart}, values: [values.yaml]}}\n"
        .format(chart=chart, **names))
    store = ["--store", str(tmp_path / "e.db")]
    done = phasegate("--json", "images", "mirror", str(plan), *store, env=setup.env)
    assert done.returncode == 0, done.stdout + done.stderr
    images = json.loads(done.stdout)["images"]
    assert [(i["upstream"], i["mirror"], i["outcome"]) for i in images] == [
        (f"{setup.source}/{setup.repo}/multi:1", f"{setup.mirror.host}/charts/{setup.repo}/multi:1",
         "copied")]
    assert served(setup, setup.mirror.host, f"charts/{setup.repo}/multi", "1")[0] == 200


def test_a_chart_that_does_not_render_is_bad_input_not_a_mirror_with_nothing_to_copy(
    setup: Setup, helm_binary: str, tmp_path: Path
) -> None:
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "app.yaml").write_text('{{ fail "needs a database url" }}\n')
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: broken}\n"
        f"target:\n  imageMirrors: {{'{setup.source}': '{setup.mirror.host}/x'}}\n"
        "phases:\n  - name: web\n    helm: {release: web, path: broken}\n")
    store = tmp_path / "e.db"
    done = phasegate("images", "mirror", str(tmp_path / "plan.yaml"), "--store", str(store),
                     env=setup.env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "phases[0].helm: phase web: its chart's images cannot be known" in done.stderr
    assert "needs a database url" in done.stderr, done.stderr
    assert not store.exists() or not EvidenceStore(str(store)).runs()
