"""What only a real node makes honest: a kubelet with containerd runs the pods for real.

Readiness probes that fail then pass, a real crash loop with its real logs in the
diagnostics, image pulls refused by the registry or by TLS, a rollout whose new pods
never become Ready and its rollback, HTTP through a Service to a real container, and
kill -9 while real pods start, then resume. All on the ``real_cluster`` sandbox
(tests/fixtures/cluster.py); one test starts a sandbox of its own, to check that ``down``
after a killed ``up`` leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from phasegate.sandbox import SandboxInfo, connect, status
from phasegate.sandbox.api import Api, Json, wait_for
from tests.fixtures.cluster import on_real_node
from tests.fixtures.registry import Pushed
from tests.integration.cli_helpers import PHASEGATE, phasegate
from tests.integration.k8s_helpers import evaluate, held_image, write_yaml
from tests.integration.workflow_helpers import args, steps

pytestmark = pytest.mark.cluster

SERVE_LATER = ("mkdir -p /tmp/w; (sleep 4; echo ok > /tmp/w/health) & "
               "exec httpd -f -p 8080 -h /tmp/w")


def container(cluster: SandboxInfo, **extra: Any) -> Json:
    return {"name": "app", "image": held_image(cluster), **extra}


def readiness(path: str = "/health") -> Json:
    return {"httpGet": {"path": path, "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}


def create_pod(api: Api, namespace: str, name: str, spec: Json) -> str:
    api.create(f"/api/v1/namespaces/{namespace}/pods",
               {"metadata": {"name": name, "labels": {"app": name}}, "spec": on_real_node(spec)})
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def workload(name: str, spec: Json, replicas: int = 1) -> Json:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": on_real_node(spec)}},
    }


def service(name: str) -> Json:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def apply_docs(api: Api, namespace: str, *docs: Json) -> None:
    for doc in docs:
        path = (f"/apis/apps/v1/namespaces/{namespace}/deployments" if doc["kind"] == "Deployment"
                else f"/api/v1/namespaces/{namespace}/services")
        api.create(path, doc)


def status_of(pod: Json | None) -> tuple[str | None, Json]:
    """(the Ready condition's status, the first container's state)."""
    status = (pod or {}).get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or []
                  if c.get("type") == "Ready"), None)
    containers = status.get("containerStatuses") or [{}]
    return ready, containers[0].get("state") or {}


def events_for(api: Api, namespace: str, name: str) -> list[Json]:
    found = api.get(f"/api/v1/namespaces/{namespace}/events"
                    f"?fieldSelector=involvedObject.name%3D{name}") or {}
    return list(found.get("items") or [])


def test_the_real_node_is_labelled_tainted_and_served_on_its_own_address(
    real_cluster: SandboxInfo,
) -> None:
    with connect(real_cluster) as api:
        nodes = {n["metadata"]["name"]: n for n in (api.get("/api/v1/nodes") or {})["items"]}
    assert set(nodes) == {"kwok-node-0", "real-node-0"}
    real = nodes["real-node-0"]
    assert real["metadata"]["labels"]["phasegate.dev/node"] == "real"
    assert {"key": "phasegate.dev/node", "value": "real", "effect": "NoSchedule"} in [
        {k: t[k] for k in ("key", "value", "effect")} for t in real["spec"]["taints"]]
    (address,) = [a["address"] for a in real["status"]["addresses"] if a["type"] == "InternalIP"]
    assert address.startswith("10.213.") and address.endswith(".1")
    info = real["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.35.4"
    assert info["containerRuntimeVersion"].startswith("containerd://1.")
    shown = phasegate("sandbox", "status", "--json")
    (mine,) = [s for s in json.loads(shown.stdout)["sandboxes"] if s["name"] == real_cluster.name]
    assert mine["nodes"] == 1 and mine["real_nodes"] == ["real-node-0"]
    assert mine["running"]["real-node-0-kubelet"] and mine["running"]["real-node-0-containerd"]


def test_a_readiness_probe_fails_then_passes_for_real(
    real_cluster: SandboxInfo, real_namespace: str
) -> None:
    spec = {"containers": [container(real_cluster, args=["sh", "-c", SERVE_LATER],
                                     readinessProbe=readiness())]}
    seen: list[tuple[str | None, str]] = []
    with connect(real_cluster) as api:
        path = create_pod(api, real_namespace, "later", spec)

        def ready() -> bool:
            state, running = status_of(api.get(path))
            seen.append((state, "running" if "running" in running else "other"))
            return state == "True"

        wait_for("the pod becoming Ready", ready, timeout=60, interval=0.2)
        unhealthy = [e for e in events_for(api, real_namespace, "later")
                     if e["reason"] == "Unhealthy"]
    # Running but not Ready first (the kubelet's probe got 404), then Ready.
    assert ("False", "running") in seen
    assert unhealthy, "no Unhealthy event from the kubelet"
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in (
        unhealthy[0]["message"])
    assert unhealthy[0]["source"].get("component") == "kubelet"


def test_a_crash_loop_carries_the_containers_real_log_in_the_diagnostics(
    real_cluster: SandboxInfo, real_namespace: str, tmp_path: Path
) -> None:
    # With no readiness probe, Kubernetes itself counts the container available during
    # each short run between restarts, and a rollout gate sampling then would pass; with
    # one (it never answers: it exits first), the Deployment is never Available.
    crash = workload("crash", {"containers": [container(real_cluster, args=["fail"],
                                                        readinessProbe=readiness())]})
    with connect(real_cluster) as api:
        apply_docs(api, real_namespace, crash)
    store = ["--store", str(tmp_path / "e.db")]
    result = phasegate("probe", "{k8s.rollout: {name: crash}}", "--timeout", "40s",
                       "--context", real_cluster.admin_context,
                       "--kubeconfig", str(real_cluster.kubeconfig),
                       "--namespace", real_namespace, *store)
    assert result.returncode == 1, result.stdout + result.stderr
    facts = json.loads(phasegate("evidence", "latest", "-f", "json", *store).stdout)
    (diagnostics,) = [a for a in facts["artifacts"] if a["name"].startswith("diagnostics")]
    text = diagnostics["content"]
    # The line the container really printed to stderr before exiting 1, read by the API
    # server from the real kubelet.
    assert "exiting 1 on purpose" in text, text
    assert "CrashLoopBackOff" in text or "exit code 1" in text.lower() or "Error" in text, text


def test_image_pulls_fail_for_a_missing_tag_and_for_an_untrusted_ca(
    real_cluster: SandboxInfo, real_namespace: str, registry: Pushed
) -> None:
    host = f"127.0.0.1:{registry.registry.port}"  # TLS from the test CA, unknown to the node
    untrusted = f"{host}/shop/api:1.4.2"
    # containerd speaks plain HTTP to a loopback registry it has no hosts.toml for; told
    # to use HTTPS (and no CA), as for any registry of a real cluster, it checks the chain.
    hosts = real_cluster.work_dir / "nodes" / "real-node-0" / "containerd" / "certs.d" / host
    hosts.mkdir(parents=True)
    (hosts / "hosts.toml").write_text(
        f'server = "https://{host}"\n\n[host."https://{host}"]\n'
        '  capabilities = ["pull", "resolve"]\n')
    with connect(real_cluster) as api:
        missing = create_pod(api, real_namespace, "missing", {"containers": [
            {"name": "app", "image": held_image(real_cluster, "shop/api:0.0.0-missing")}]})
        foreign = create_pod(api, real_namespace, "foreign",
                             {"containers": [{"name": "app", "image": untrusted}]})

        def refused(path: str) -> str | None:
            waiting = status_of(api.get(path))[1].get("waiting") or {}
            if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                return str(waiting.get("message") or "")
            return None

        messages: dict[str, str] = {}

        def both() -> bool:
            for path in (missing, foreign):
                said = refused(path)
                if said and "pull" in said.lower():
                    messages[path] = said
            return len(messages) == 2

        wait_for("both pulls refused", both, timeout=60, interval=0.3)
    assert "not found" in messages[missing], messages[missing]
    assert "x509" in messages[foreign] or "certificate" in messages[foreign], messages[foreign]


ROLLBACK_PLAN = """apiVersion: phasegate/v1
kind: Plan
metadata: {name: real-rollback}
target: {context: phasegate-local, namespace: NAMESPACE}
phases:
  - name: v1
    apply: v1.yaml
    gate: [{k8s.rollout: {name: api}}]
    timeout: 1m
    rollback: none
  - name: v2
    apply: v2.yaml
    gate: [{k8s.rollout: {name: api}}]
    timeout: 12s
"""


def test_a_rollout_whose_new_pods_never_become_ready_is_rolled_back(
    real_cluster: SandboxInfo, real_namespace: str, tmp_path: Path
) -> None:
    def version(probe_path: str) -> Json:
        return workload("api", {"containers": [container(
            real_cluster, readinessProbe=readiness(probe_path))]}, replicas=2)

    write_yaml(tmp_path / "v1.yaml", version("/health"))
    write_yaml(tmp_path / "v2.yaml", version("/not-there"))  # 404 forever: never Ready
    (tmp_path / "plan.yaml").write_text(ROLLBACK_PLAN.replace("NAMESPACE", real_namespace))
    result = phasegate("run", str(tmp_path / "plan.yaml"), "--kubeconfig",
                       str(real_cluster.kubeconfig), "--yes", "--store", str(tmp_path / "e.db"),
                       "--reports", str(tmp_path / "reports"))
    assert result.returncode == 1, result.stdout + result.stderr
    path = f"/apis/apps/v1/namespaces/{real_namespace}/deployments/api"
    with connect(real_cluster) as api:
        def restored() -> bool:
            dep = api.get(path) or {}
            probe = dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
            st = dep.get("status") or {}
            return (probe["httpGet"]["path"] == "/health" and st.get("readyReplicas") == 2
                    and st.get("updatedReplicas") == 2 and st.get("replicas") == 2)

        wait_for("v1 restored, 2 real pods Ready", restored, timeout=60, interval=0.3)
        pods = (api.get(f"/api/v1/namespaces/{real_namespace}/pods?labelSelector=app%3Dapi")
                or {})["items"]
    assert {p["spec"]["nodeName"] for p in pods} == {"real-node-0"}
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 2 and all(status_of(p)[0] == "True" for p in live)


def test_http_gate_reaches_a_real_container_through_its_service(
    real_cluster: SandboxInfo, real_namespace: str
) -> None:
    serving = workload("web", {"containers": [container(real_cluster,
                                                         readinessProbe=readiness())]})
    with connect(real_cluster) as api:
        apply_docs(api, real_namespace, serving, service("web"), service("nobody"))
    ready = evaluate(real_cluster, real_namespace, [{"k8s.rollout": {"name": "web"}}], timeout=60)
    assert ready.passed
    started = time.monotonic()
    seen = evaluate(real_cluster, real_namespace,
                    [{"k8s.http": {"service": "web", "path": "/health", "body": "^ok"}}])
    assert seen.passed, seen
    assert time.monotonic() - started < 10
    nobody = evaluate(real_cluster, real_namespace,
                      [{"k8s.http": {"service": "nobody", "path": "/health"}}])
    assert not nobody.passed


def test_real_nodes_on_a_machine_without_containerd_exit_2_naming_what_is_missing(
    tmp_path: Path,
) -> None:
    # The registry's tools are there, the real node's are not: the check names each one
    # missing, before anything starts.
    for tool in ("docker-registry", "skopeo"):
        found = shutil.which(tool)
        assert found, f"{tool} not installed (scripts/ensure-test-tools installs it)"
        (tmp_path / tool).symlink_to(found)
    name = f"no-node-{uuid.uuid4().hex[:6]}"
    result = phasegate("sandbox", "up", "--name", name, "--real-nodes", "1",
                       env={"PATH": str(tmp_path)})
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "A real node (--real-nodes) cannot run on this machine" in message
    for program in ("containerd", "runc", "ctr", "unshare", "nsenter", "ip"):
        assert f"`{program}` on PATH" in message
    assert "apt-get install containerd runc containernetworking-plugins" in message
    assert "Traceback" not in result.stderr
    assert status(name) == []


def test_down_after_a_killed_up_leaves_no_process_bridge_cgroup_or_mount(tmp_path: Path) -> None:
    # `up` killed -9 once its real node runs (containerd, the kubelet, the probe pod's
    # containers on their way): `down` from another process must still remove it all.
    name = f"killed-{uuid.uuid4().hex[:6]}"
    cli = [PHASEGATE, "sandbox", "up", "--name", name, "--nodes", "1", "--real-nodes", "1"]
    up_process = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
    try:
        def node_running() -> bool:
            found = status(name)
            return bool(found) and found[0].running.get("real-node-0-kubelet", False) and (
                found[0].info.work_dir / "nodes" / "real-node-0" / "containerd" / "runc"
                / "k8s.io").is_dir()

        wait_for("the real node's first containers", node_running, timeout=90, interval=0.1)
    finally:
        os.kill(up_process.pid, signal.SIGKILL)
        up_process.wait()
    (found,) = status(name)
    info = found.info
    node = info.work_dir / "nodes" / "real-node-0"
    namespace = (node / "mount-namespace").read_text().strip()
    containers = [d.name for d in (node / "containerd" / "runc" / "k8s.io").iterdir()]
    bridge = info.real_nodes["real-node-0"]
    stopped = phasegate("sandbox", "down", "--name", name)
    assert stopped.returncode == 0, stopped.stderr
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "mnt") == namespace:
                    left.append(entry.name)
            except OSError:
                pass
    assert left == [], f"processes left in the node's mount namespace: {left}"
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert f" {bridge}:" not in links
    cgroups = [str(g) for cid in containers for g in Path("/sys/fs/cgroup").glob(f"*/k8s.io/{cid}")]
    assert containers and cgroups == []
    assert not info.work_dir.exists() and status(name) == []
    assert str(info.work_dir) not in Path("/proc/self/mountinfo").read_text()


def test_kill_9_while_real_pods_start_then_resume_passes(
    real_cluster: SandboxInfo, tmp_path: Path, fresh_real_namespace: str
) -> None:
    # The shop on the real node, killed -9 while its API's gate waits for real readiness
    # probes; resume closes that step and finishes against the containers still running.
    root = Path(__file__).resolve().parents[2] / "examples" / "shop"
    store = tmp_path / "e.db"
    process = subprocess.Popen(
        [PHASEGATE, "apply", str(root / "plan.yaml"), "--yes", "--input",
         f"@{root / 'values.yaml'}", *args(real_cluster, tmp_path, fresh_real_namespace)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def api_gate_running() -> str | None:
        try:
            with sqlite3.connect(store) as db:
                row = db.execute("select run_id from steps where name = 'phase 3: api · gate' "
                                 "and status = 'running'").fetchone()
        except sqlite3.OperationalError:  # not created yet, or locked for a moment
            return None
        return str(row[0]) if row else None

    try:
        wait_for("the api phase's gate running", lambda: api_gate_running() is not None,
                 timeout=90, interval=0.01)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    run_id = api_gate_running()
    assert run_id is not None
    resumed = phasegate("resume", run_id, "--json", "--store", str(store), timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    recorded = steps(tmp_path, run_id)
    assert ("I", "phase 3: api · gate", "abandoned") in recorded
    assert recorded.count(("I", "phase 3: api · gate", "passed")) == 1
    with connect(real_cluster) as api:
        dep = api.get(f"/apis/apps/v1/namespaces/{fresh_real_namespace}/deployments/api") or {}
    assert (dep.get("status") or {}).get("readyReplicas") == 2
    evidence = Path(json.loads(resumed.stdout)["files"]["evidence"]).read_text()
    assert "HTTP 200 in" in evidence  # the http gate, answered after the resume
