"""Helm phases against the sandbox with the real helm CLI and the public podinfo chart
(its image retagged into the sandbox registry): install, upgrade with another values
file, a failed upgrade rolled back to the revision before, a failed install uninstalled,
kill -9 mid-upgrade leaving a pending release the next run refuses with evidence, every
stage R → P → I → V, and a chart resolved from a repository's index."""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox import registry as sandbox_registry
from tests.integration.cli_helpers import PHASEGATE, phasegate
from tests.integration.public_material import public
from tests.integration.workflow_helpers import args, steps

pytestmark = pytest.mark.cluster
CHART = public("podinfo-chart")


@pytest.fixture(scope="module")
def podinfo_images(cluster: SandboxInfo) -> str:
    """The chart's images, retagged into the sandbox registry: the only place sandbox pods
    pull from. Returns the registry."""
    assert cluster.registry is not None
    certs = str(sandbox_registry.certs_dir(cluster.registry))
    for name in ("stefanprodan/podinfo:6.14.1", "stefanprodan/podinfo:6.14.2", "redis:8.8.0"):
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet",
                        "--src-cert-dir", certs, "--dest-cert-dir", certs,
                        f"docker://{cluster.registry}/shop/api:1.4.2",
                        f"docker://{cluster.registry}/{name}"], check=True, timeout=60)
    return cluster.registry


def _plan(tmp_path: Path, registry: str, *values: str, hooks: bool = False,
          timeout: str = "60s") -> Path:
    """A plan installing podinfo from the public chart; ``values`` are files in tmp_path."""
    (tmp_path / "registry.yaml").write_text(
        f"image: {{repository: {registry}/stefanprodan/podinfo}}\n"
        f"redis: {{repository: {registry}/redis}}\nhpa: {{enabled: false}}\n")
    files = ["registry.yaml", *values]
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: podinfo}\n"
        "target: {context: phasegate-local, namespace: '${input.namespace}'}\n"
        "phases:\n  - name: web\n"
        f"    helm:\n      release: web\n      path: {CHART}\n      values: {json.dumps(files)}\n"
        + ("      set: {hooks.preUpgrade.job.enabled: true}\n" if hooks else "")
        + f"    timeout: {timeout}\n")
    return plan


def _apply(cluster: SandboxInfo, tmp_path: Path, namespace: str, plan: Path,
           ) -> tuple[int, dict[str, Any]]:
    done = phasegate("apply", str(plan), "--yes", "--json", *args(cluster, tmp_path, namespace),
                     timeout=240)
    return done.returncode, json.loads(done.stdout)


def _history(helm: str, cluster: SandboxInfo, namespace: str) -> list[dict[str, Any]]:
    out = subprocess.run([helm, "history", "web", "--namespace", namespace, "--output", "json",
                          "--kubeconfig", str(cluster.kubeconfig)], capture_output=True,
                         text=True, check=True).stdout
    found: list[dict[str, Any]] = json.loads(out)
    return found


def _deployment(cluster: SandboxInfo, namespace: str) -> dict[str, Any]:
    with connect(cluster) as api:
        found: dict[str, Any] = api.get(f"/apis/apps/v1/namespaces/{namespace}"
                                        "/deployments/web-podinfo")
    return found


def _image(cluster: SandboxInfo, namespace: str) -> str:
    containers = _deployment(cluster, namespace)["spec"]["template"]["spec"]["containers"]
    return str(containers[0]["image"])


def test_install_then_upgrade_with_the_prod_values(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    code, result = _apply(cluster, tmp_path, namespace, _plan(tmp_path, podinfo_images))
    assert code == 0, result
    assert [(r["revision"], r["status"]) for r in _history(helm_binary, cluster, namespace)] == [
        (1, "deployed")]
    # upgraded with the chart's own prod profile (redis on), then the registry overrides
    (tmp_path / "prod.yaml").write_text((CHART / "values-prod.yaml").read_text())
    plan = _plan(tmp_path, podinfo_images, "prod.yaml")
    plan.write_text(plan.read_text().replace('"registry.yaml", "prod.yaml"',
                                             '"prod.yaml", "registry.yaml"'))
    code, result = _apply(cluster, tmp_path, namespace, plan)
    assert code == 0, result
    history = _history(helm_binary, cluster, namespace)
    assert [(r["revision"], r["status"]) for r in history] == [(1, "superseded"), (2, "deployed")]
    gate = [s for s in steps(tmp_path, result["run_id"]) if s[1] == "phase 1: web · gate"]
    assert gate == [("I", "phase 1: web · gate", "passed")]
    with connect(cluster) as api:  # the redis of the prod profile is there and rolled out
        redis = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web-podinfo-redis")
    assert redis["status"].get("readyReplicas") == 1


def test_a_failed_upgrade_rolls_back_to_the_revision_before(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    code, result = _apply(cluster, tmp_path, namespace, _plan(tmp_path, podinfo_images))
    assert code == 0, result
    (tmp_path / "missing.yaml").write_text("image: {tag: 0.0.0-does-not-exist}\n")
    started = time.monotonic()
    code, result = _apply(cluster, tmp_path, namespace,
                          _plan(tmp_path, podinfo_images, "missing.yaml", timeout="2m"))
    assert code == 1, result
    assert time.monotonic() - started < 60  # the pull error fails the gate at once
    assert result["phases"][0]["status"] == "rolled back"
    assert "rolled helm release" in result["phases"][0]["detail"]
    history = _history(helm_binary, cluster, namespace)
    assert [(r["revision"], r["status"]) for r in history][-1] == (3, "deployed")
    assert "Rollback to 1" in history[-1]["description"]
    assert _image(cluster, namespace) == f"{podinfo_images}/stefanprodan/podinfo:6.14.1"


def test_a_failed_install_is_uninstalled(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "missing.yaml").write_text("image: {tag: 0.0.0-does-not-exist}\n")
    code, result = _apply(cluster, tmp_path, namespace,
                          _plan(tmp_path, podinfo_images, "missing.yaml"))
    assert code == 1, result
    assert "uninstalled helm release" in result["phases"][0]["detail"]
    assert _history_or_none(helm_binary, cluster, namespace) is None


def _history_or_none(helm: str, cluster: SandboxInfo, namespace: str) -> str | None:
    done = subprocess.run([helm, "history", "web", "--namespace", namespace,
                           "--kubeconfig", str(cluster.kubeconfig)], capture_output=True,
                          text=True)
    return None if "release: not found" in done.stderr else done.stdout


def test_kill_9_mid_upgrade_leaves_a_pending_release_that_the_next_run_refuses(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    code, result = _apply(cluster, tmp_path, namespace, _plan(tmp_path, podinfo_images))
    assert code == 0, result
    # the pre-upgrade hook's Job cannot pull its image: helm waits on it, mid-upgrade
    (tmp_path / "missing.yaml").write_text("image: {tag: 0.0.0-does-not-exist}\n")
    plan = _plan(tmp_path, podinfo_images, "missing.yaml", hooks=True)
    process = subprocess.Popen([PHASEGATE, "apply", str(plan), "--yes",
                                *args(cluster, tmp_path, namespace)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        _wait_for_pending(cluster, namespace)
    finally:  # the whole client is killed, helm with phasegate, as a cancelled CI job is
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    history = _history(helm_binary, cluster, namespace)
    assert history[-1]["status"] == "pending-upgrade"
    again = _plan(tmp_path, podinfo_images)
    code, result = _apply(cluster, tmp_path, namespace, again)
    assert code == 1, result
    detail = result["phases"][0]["detail"]
    assert "helm release " + namespace + "/web is pending-upgrade (revision 2" in detail
    command = f"helm rollback web 1 --namespace {namespace}"
    assert command in detail
    assert ("I", "phase 1: web · gate", "failed") in steps(tmp_path, result["run_id"])
    # never unlocked by phasegate: the release is as the killed helm left it
    assert _history(helm_binary, cluster, namespace)[-1]["status"] == "pending-upgrade"
    # the history is the evidence
    with sqlite3.connect(tmp_path / "e.db") as db:
        kept = db.execute("select content from artifacts where run_id = ? and name = ?",
                          (result["run_id"], "helm history: web")).fetchone()
    assert [r["status"] for r in json.loads(kept[0])] == ["deployed", "pending-upgrade"]
    # the person's command unlocks it, and the plan then runs
    subprocess.run([helm_binary, *command.split()[1:], "--kubeconfig", str(cluster.kubeconfig)],
                   check=True, capture_output=True)
    code, result = _apply(cluster, tmp_path, namespace, again)
    assert code == 0, result


def _wait_for_pending(cluster: SandboxInfo, namespace: str) -> None:
    """Until helm has stored the release's pending-upgrade revision (its storage Secret's
    status label)."""
    path = (f"/api/v1/namespaces/{namespace}/secrets"
            "?labelSelector=owner%3Dhelm,name%3Dweb,status%3Dpending-upgrade")
    deadline = time.monotonic() + 90
    with connect(cluster) as api:
        while time.monotonic() < deadline:
            found = api.get(path)
            if found and found.get("items"):
                return
            time.sleep(0.05)
    raise AssertionError("helm never stored a pending-upgrade revision")


def _observations(tmp_path: Path, run_id: str, stage: str) -> dict[str, tuple[int, str]]:
    with sqlite3.connect(tmp_path / "e.db") as db:
        rows = db.execute("select o.name, o.passed, o.observed from observations o join steps s "
                          "on o.step_id = s.id where s.run_id = ? and s.stage = ?",
                          (run_id, stage)).fetchall()
    return {name: (passed, observed) for name, passed, observed in rows}


def test_a_chart_runs_through_every_stage(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path, podinfo_images)
    common = args(cluster, tmp_path, namespace)
    planned = phasegate("plan", str(plan), "--json", *common)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    preview = json.loads(planned.stdout)["preview"]["phases"][0]
    assert {(o["ref"].split(" ")[0], o["action"]) for o in preview["objects"]} == {
        ("Deployment", "create"), ("Service", "create")}
    assert preview["gate"] == ["release objects ready"]
    first_hash = json.loads(planned.stdout)["plan_hash"]
    # the hash covers the values: another values file is another plan to approve
    (tmp_path / "message.yaml").write_text("ui: {message: hello}\n")
    other = phasegate("plan", str(_plan(tmp_path, podinfo_images, "message.yaml")), "--json",
                      *common)
    assert json.loads(other.stdout)["plan_hash"] != first_hash
    done = phasegate("run", str(_plan(tmp_path, podinfo_images)), "--yes", "--json", *common,
                     timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    checked = _observations(tmp_path, run_id, "R")
    assert checked["chart of phase web"][0] == 1, checked
    assert "every API served" in checked["chart of phase web"][1]
    pulled = [name for name in checked if "stefanprodan/podinfo:6.14.1" in name]
    assert pulled and all(checked[name][0] == 1 for name in pulled), checked
    with sqlite3.connect(tmp_path / "e.db") as db:
        rehearsal = db.execute("select detail from steps where run_id = ? and kind = ?",
                               (run_id, "rehearsal")).fetchone()[0]
    assert "would be uninstalled (helm uninstall --dry-run)" in rehearsal
    # upgraded with the new values: the preview shows the change, from the chart's template
    changed = phasegate("plan", str(_plan(tmp_path, podinfo_images, "message.yaml")), "--json",
                        *common)
    objects = json.loads(changed.stdout)["preview"]["phases"][0]["objects"]
    deployment = next(o for o in objects if o["ref"].startswith("Deployment"))
    assert deployment["action"] == "change", objects
    assert deployment["fields"] == ["spec.template.spec.containers"]  # its env, from ui.message
    assert {o["action"] for o in objects if o["ref"].startswith("Service")} == {"unchanged"}


def test_stage_r_names_the_apis_a_chart_needs_that_the_cluster_does_not_serve(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "monitor.yaml").write_text("serviceMonitor: {enabled: true}\n")
    checked = phasegate("check", str(_plan(tmp_path, podinfo_images, "monitor.yaml")), "--json",
                        *args(cluster, tmp_path, namespace)[:-2])  # check writes no reports
    assert checked.returncode == 1, checked.stdout + checked.stderr
    run_id = json.loads(checked.stdout)["run_id"]
    passed, observed = _observations(tmp_path, run_id, "R")["chart of phase web"]
    assert not passed
    assert "not served: monitoring.coreos.com/v1/ServiceMonitor" in observed


def test_a_set_value_named_like_a_credential_never_reaches_the_store_or_output(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    secret = "pw-never-shown-8731"
    plan = _plan(tmp_path, podinfo_images)
    plan.write_text(plan.read_text().replace(
        "    timeout:", f"      set: {{redis.auth.password: {secret}, ui.message: hi}}\n"
                       "    timeout:"))
    done = phasegate("run", str(plan), "--yes", "--json", *args(cluster, tmp_path, namespace),
                     timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert secret not in done.stdout + done.stderr
    stored = (tmp_path / "e.db").read_bytes()
    assert b"ui.message" in stored  # the set values are in the store, as parameters
    assert secret.encode() not in stored
    for report in (tmp_path / "reports").rglob("*"):
        assert secret not in report.read_text(errors="replace"), report


@pytest.fixture
def chart_repo(helm_binary: str, tmp_path: Path) -> Iterator[str]:
    """The podinfo chart packaged and indexed as a chart repository, served over HTTP."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run([helm_binary, "package", str(CHART), "--destination", str(repo)],
                   check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        _QuietHandler, directory=str(repo)))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subprocess.run([helm_binary, "repo", "index", str(repo), "--url", url], check=True,
                   capture_output=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_chart_from_a_repository_resolves_by_its_index_and_a_missing_version_is_named(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path, chart_repo: str,
) -> None:
    plan = _plan(tmp_path, podinfo_images)
    text = plan.read_text().replace(f"      path: {CHART}\n",
                                    f"      repo: {chart_repo}\n      chart: podinfo\n"
                                    "      version: 6.14.1\n")
    plan.write_text(text)
    common = args(cluster, tmp_path, namespace)[:-2]
    checked = phasegate("check", str(plan), "--json", *common)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    run_id = json.loads(checked.stdout)["run_id"]
    found = _observations(tmp_path, run_id, "R")
    assert found["chart of phase web"][0] == 1, found
    assert any("stefanprodan/podinfo:6.14.1" in name for name in found), found
    plan.write_text(text.replace("version: 6.14.1", "version: 9.9.9"))
    missing = phasegate("check", str(plan), "--json", *common)
    assert missing.returncode == 1, missing.stdout + missing.stderr
    passed, observed = _observations(
        tmp_path, json.loads(missing.stdout)["run_id"], "R")["chart of phase web"]
    assert not passed and "9.9.9" in observed and "not found" in observed


def test_sigterm_mid_upgrade_lets_helm_cancel_it_as_failed_not_pending(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    code, result = _apply(cluster, tmp_path, namespace, _plan(tmp_path, podinfo_images))
    assert code == 0, result
    (tmp_path / "missing.yaml").write_text("image: {tag: 0.0.0-does-not-exist}\n")
    plan = _plan(tmp_path, podinfo_images, "missing.yaml", hooks=True)
    process = subprocess.Popen([PHASEGATE, "apply", str(plan), "--yes",
                                *args(cluster, tmp_path, namespace)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        _wait_for_pending(cluster, namespace)
        process.send_signal(signal.SIGTERM)  # phasegate alone: it stops its helm
        assert process.wait(timeout=60) == 3
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    deadline = time.monotonic() + 30
    while _history(helm_binary, cluster, namespace)[-1]["status"].startswith("pending"):
        assert time.monotonic() < deadline, "helm left the release pending"
        time.sleep(0.1)
    assert _history(helm_binary, cluster, namespace)[-1]["status"] == "failed"
    code, result = _apply(cluster, tmp_path, namespace, _plan(tmp_path, podinfo_images))
    assert code == 0, result  # a failed revision is upgraded over


def test_a_chart_from_an_oci_registry_is_trusted_like_its_images_and_installs(
    cluster: SandboxInfo, helm_binary: str, podinfo_images: str, namespace: str,
    tmp_path: Path,
) -> None:
    """The chart pushed to the sandbox's TLS registry: helm is given the CA the image probes
    trust for that registry (its certs.d directory), so R resolves it and I installs it."""
    assert cluster.registry is not None
    packaged = tmp_path / "packaged"
    subprocess.run([helm_binary, "package", str(CHART), "--destination", str(packaged)],
                   check=True, capture_output=True)
    ca = sandbox_registry.certs_dir(cluster.registry) / "ca.crt"
    subprocess.run([helm_binary, "push", str(packaged / "podinfo-6.14.1.tgz"),
                    f"oci://{cluster.registry}/charts", "--ca-file", str(ca)],
                   check=True, capture_output=True, timeout=60)
    plan = _plan(tmp_path, podinfo_images)
    plan.write_text(plan.read_text().replace(
        f"      path: {CHART}\n", f"      oci: oci://{cluster.registry}/charts\n"
        "      chart: podinfo\n      version: 6.14.1\n"))
    done = phasegate("run", str(plan), "--yes", "--json", *args(cluster, tmp_path, namespace),
                     timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    checked = _observations(tmp_path, json.loads(done.stdout)["run_id"], "R")
    assert checked["chart of phase web"][0] == 1, checked
    assert _history(helm_binary, cluster, namespace)[-1]["status"] == "deployed"
    assert _image(cluster, namespace) == f"{podinfo_images}/stefanprodan/podinfo:6.14.1"
