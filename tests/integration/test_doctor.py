"""``phasegate doctor`` against the real sandbox: a healthy setup, a wrong context, an
unreachable server, an unwritable store — each row says what it found and what to do."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import phasegate
from tests.integration.kubeconfig_helpers import sandbox_config, write

pytestmark = pytest.mark.cluster


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = phasegate("doctor", "--json", *args, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    document = json.loads(result.stdout)
    return result.returncode, {row["check"]: row for row in document["checks"]}


def pinned_plan(tmp_path: Path, cluster: SandboxInfo) -> Path:
    with connect(cluster) as api:
        uid = api.get("/api/v1/namespaces/kube-system")["metadata"]["uid"]  # type: ignore[index]
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: doctored}\n"
        f"target: {{context: {cluster.admin_context}, namespace: default, clusterUID: {uid}}}\n"
        f"assumptions:\n  images: [{cluster.registry}/shop/api:1.4.2]\n")
    return plan


def test_a_healthy_setup_passes_every_row(cluster: SandboxInfo, tmp_path: Path) -> None:
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(b"phasegate:secret-pass").decode()
    (docker / "config.json").write_text(json.dumps({"auths": {cluster.registry: {"auth": auth}}}))
    plan = pinned_plan(tmp_path, cluster)
    code, rows = doctor("--plan", str(plan), "--kubeconfig", str(cluster.kubeconfig),
                        "--store", str(tmp_path / "e.db"), env={"DOCKER_CONFIG": str(docker)})
    assert code == 0, rows
    assert {name: row["status"] for name, row in rows.items()} == {
        "kubeconfig": "ok", "context": "ok", "API server": "ok", "who am I": "ok",
        "cluster pin": "ok", "store": "ok", f"registry {cluster.registry}": "ok",
        "helm": "skip"}
    assert cluster.api_url in rows["API server"]["detail"]
    assert "groups:" in rows["who am I"]["detail"]
    assert "kube-system UID" in rows["cluster pin"]["detail"]
    assert "config.json" in rows[f"registry {cluster.registry}"]["detail"]
    assert "secret-pass" not in json.dumps(rows) and auth not in json.dumps(rows)
    assert not (tmp_path / "e.db").exists()  # the doctor changes nothing, not even the store


def test_an_existing_store_is_writable_and_at_the_current_schema(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    store = tmp_path / "e.db"
    assert phasegate("runs", "--store", str(store)).returncode == 0  # creates and migrates it
    code, rows = doctor("--kubeconfig", str(cluster.kubeconfig), "--context",
                        cluster.admin_context, "--store", str(store))
    assert code == 0, rows
    assert rows["store"]["status"] == "ok" and "(current)" in rows["store"]["detail"]


def test_a_wrong_context_fails_and_names_the_contexts_there_are(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    code, rows = doctor("--kubeconfig", str(cluster.kubeconfig), "--context", "nope",
                        "--store", str(tmp_path / "e.db"))
    assert code == 1
    assert rows["context"]["status"] == "fail" and "nope" in rows["context"]["detail"]
    assert cluster.admin_context in rows["context"]["fix"]
    assert rows["API server"]["status"] == "skip"
    assert rows["store"]["status"] == "ok"  # one failure does not hide the other rows


def test_an_unreachable_server_fails_with_what_to_check(
    cluster: SandboxInfo, tmp_path: Path, closed_port: int
) -> None:
    config = sandbox_config(cluster)
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{closed_port}"
    kubeconfig = write(tmp_path / "kubeconfig", config)
    result = phasegate("doctor", "--kubeconfig", str(kubeconfig), "--context",
                       cluster.admin_context, "--store", str(tmp_path / "e.db"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unreachable" in result.stdout and "what to do" in result.stdout
    assert f"127.0.0.1:{closed_port}" in result.stdout
    code, rows = doctor("--kubeconfig", str(kubeconfig), "--context", cluster.admin_context,
                        "--store", str(tmp_path / "e.db"))
    assert code == 1
    assert rows["API server"]["status"] == "fail" and "is the cluster up" in rows[
        "API server"]["fix"]
    assert rows["who am I"]["status"] == "skip"


def test_an_unwritable_store_fails_and_says_where_to_put_one(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, rows = doctor("--kubeconfig", str(cluster.kubeconfig), "--context",
                        cluster.admin_context, "--store", str(blocker / "e.db"))
    assert code == 1
    assert rows["store"]["status"] == "fail"
    assert "is not a directory" in rows["store"]["detail"] and "--store" in rows["store"]["fix"]
    assert rows["API server"]["status"] == "ok"
    assert blocker.read_text() == "not a directory"


def test_a_helm_plan_without_helm_fails_the_helm_row(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: charted}\n"
        f"target: {{context: {cluster.admin_context}, namespace: default}}\n"
        "phases:\n  - name: c\n    helm: {release: c, path: ./chart}\n")
    code, rows = doctor("--plan", str(plan), "--kubeconfig", str(cluster.kubeconfig),
                        "--store", str(tmp_path / "e.db"),
                        env={"PHASEGATE_HELM": str(tmp_path / "no-helm")})
    assert code == 1
    assert rows["helm"]["status"] == "fail" and "harness/helm.sh" in rows["helm"]["fix"]
