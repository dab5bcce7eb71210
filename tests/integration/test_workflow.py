"""The gated workflow end to end against the local control plane: tracers, approval,
phases with rollback, resume after failure and after kill -9, interruption."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.integration.cli_helpers import PHASEGATE, phasegate
from tests.integration.k8s_helpers import held_image
from tests.integration.workflow_helpers import applied_count, args, steps

pytestmark = pytest.mark.cluster
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_quota_refusal_rolls_back_then_resume_passes(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    plan = str(EXAMPLES / "quota-rollback" / "plan.yaml")
    first = phasegate("apply", plan, "--yes", "--json", "--input", "max_deployments=2",
                      *args(cluster, tmp_path, fresh_namespace))
    assert first.returncode == 1, first.stdout + first.stderr
    result = json.loads(first.stdout)
    assert result["stopped_at"] == "phase 3" and "exceeded quota" in result["detail"]
    assert "rolled back: deleted Deployment" in result["detail"]
    with connect(cluster) as api:
        base = f"/apis/apps/v1/namespaces/{fresh_namespace}/deployments"
        assert api.get(f"{base}/web") is None  # the phase's partial work was undone
        assert api.get(f"{base}/backend") is not None  # earlier phases stay
        api.request("PATCH", f"/api/v1/namespaces/{fresh_namespace}/resourcequotas/deployments",
                    {"spec": {"hard": {"count/deployments.apps": "3"}}},
                    content_type="application/merge-patch+json").raise_for_status()

    resumed = phasegate("resume", result["run_id"], "--json", "--store", str(tmp_path / "e.db"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run_id = result["run_id"]
    assert applied_count(tmp_path, run_id, "namespace") == 1
    assert applied_count(tmp_path, run_id, "backend") == 1
    assert applied_count(tmp_path, run_id, "frontends") == 2
    retrospective = Path(json.loads(resumed.stdout)["files"]["retrospective"]).read_text()
    assert "exceeded quota" in retrospective and "k8s.quota" in retrospective


def test_tracer_failure_stops_before_anything_is_applied_and_cleans_up(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    plan = str(EXAMPLES / "tracer-fails" / "plan.yaml")
    started = time.monotonic()
    result = phasegate("tracer", plan, "--json", *args(cluster, tmp_path, fresh_namespace))
    assert result.returncode == 1, result.stdout + result.stderr
    assert time.monotonic() - started < 60  # fails fast, not at the 2 min tracer timeout
    document = json.loads(result.stdout)
    assert document["stopped_at"] == "0"
    assert "ErrImagePull" in document["detail"] or "ImagePullBackOff" in document["detail"]
    cleanup = [s for s in steps(tmp_path, document["run_id"]) if "cleanup" in s[1]]
    assert cleanup and cleanup[0][2] == "passed"
    assert not any(s[0] == "I" for s in steps(tmp_path, document["run_id"]))
    with connect(cluster) as api:
        tracer_ns = api.get("/api/v1/namespaces?labelSelector=") or {}
        names = [n["metadata"]["name"] for n in tracer_ns.get("items", [])
                 if n["metadata"]["name"].startswith(f"pg-tracer-{document['run_id'][-6:]}")]
        for name in names:  # gone, or on its way out
            phase = (api.get(f"/api/v1/namespaces/{name}") or {}).get("status", {}).get("phase")
            assert phase in (None, "Terminating")


@pytest.mark.parametrize(
    ("image", "answer"),
    [
        ("{registry}/shop/api:0.0.0-absent", "tag not found: 0.0.0-absent in shop/api"),
        ("nginx:1.25", "registry-1.docker.io is not reachable from the phasegate sandbox"),
    ],
    ids=["absent-tag", "other-registry"],
)
def test_a_tracer_on_an_unpullable_image_fails_with_the_pull_error(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str, image: str, answer: str
) -> None:
    # No failure marker anywhere: the tracer fails because the image cannot be pulled.
    container = {"name": "c", "image": "${input.image}"}
    (tmp_path / "tracer.yaml").write_text(json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pulls"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "pulls"}},
                 "template": {"metadata": {"labels": {"app": "pulls"}},
                              "spec": {"containers": [container]}}}}))
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: pulls}\n"
                    "target: {context: phasegate-local, namespace: \"${input.namespace}\"}\n"
                    "tracers:\n  - name: pulls\n    apply: tracer.yaml\n"
                    "    gate: [{k8s.rollout: {name: pulls}}]\n    timeout: 2m\n")
    ref = image.format(registry=cluster.registry)
    started = time.monotonic()
    result = phasegate("tracer", str(plan), "--json", "--input", f"image={ref}",
                       *args(cluster, tmp_path, fresh_namespace))
    assert result.returncode == 1, result.stdout + result.stderr
    assert time.monotonic() - started < 60  # fails fast, not at the 2 min tracer timeout
    document = json.loads(result.stdout)
    assert document["stopped_at"] == "0"
    assert "ErrImagePull" in document["detail"] or "ImagePullBackOff" in document["detail"]
    assert answer in document["detail"]


def test_plan_hash_approval(cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str) -> None:
    plan = str(EXAMPLES / "quota-rollback" / "plan.yaml")
    common = ["--input", "max_deployments=5", *args(cluster, tmp_path, fresh_namespace)]
    planned = phasegate("plan", plan, "--json", *common)
    assert planned.returncode == 0, planned.stderr
    plan_hash = json.loads(planned.stdout)["plan_hash"]
    preview = json.loads(planned.stdout)["preview"]
    assert [p["name"] for p in preview["phases"]] == ["namespace", "backend", "frontends"]
    assert preview["phases"][1]["objects"][0]["action"] == "create"
    assert len(plan_hash) == 16
    unapproved = phasegate("apply", plan, "--json", *common)
    assert unapproved.returncode == 2
    assert "approval needed" in json.loads(unapproved.stdout)["detail"]
    wrong = phasegate("apply", plan, "--approve", "0" * 16, "--json", *common)
    assert wrong.returncode == 2 and "something changed" in json.loads(wrong.stdout)["detail"]
    approved = phasegate("apply", plan, "--approve", plan_hash, "--json", *common)
    assert approved.returncode == 0, approved.stdout
    validated = phasegate("validate", plan, "--json", *common)
    assert validated.returncode == 0, validated.stdout
    files = json.loads(validated.stdout)["files"]
    record = Path(files["deployment_record"]).read_text()
    assert "Deployment" in record and "rollout status deployment/backend" in record


@pytest.mark.parametrize("kill_after", ["phase 1:%apply", "phase 2:%gate", "phase 3:%apply"])
def test_kill_9_mid_run_then_resume_completes_without_reapplying(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str, kill_after: str
) -> None:
    plan = str(EXAMPLES / "quota-rollback" / "plan.yaml")
    command = [PHASEGATE, "apply", plan, "--yes", "--input", "max_deployments=5",
               *args(cluster, tmp_path, fresh_namespace)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "COLUMNS": "200"})
    run_id = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(tmp_path / "e.db") as db:
                row = db.execute("select run_id from steps where name like ? "
                                 "and status = 'passed'", (kill_after,)).fetchone()
        except sqlite3.OperationalError:
            row = None
        if row:
            run_id = row[0]
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait()
    assert run_id is not None, "the run finished before it could be killed"
    before = steps(tmp_path, run_id)
    resumed = phasegate("resume", run_id, "--json", "--store", str(tmp_path / "e.db"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    passed_before = {name.split(": ", 1)[1].removesuffix(" · gate") for stage, name, status
                     in before if stage == "I" and name.endswith("· gate") and status == "passed"}
    for phase in passed_before:  # a phase that passed is never applied again
        assert applied_count(tmp_path, run_id, phase) == 1, phase
    after = steps(tmp_path, run_id)
    # no evidence lost: the same steps with the same outcomes, except that the step the
    # kill cut short (left `running` by the killed process) is closed as abandoned
    closed = [(stage, name, "abandoned" if status == "running" else status)
              for stage, name, status in before]
    assert after[: len(before)] == closed
    assert ("I", "phase 3: frontends · gate", "passed") in after


def test_sigint_during_a_tracer_stops_with_exit_3_and_cleans_up(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    (tmp_path / "stuck.yaml").write_text(json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "stuck"}},
                 "template": {"metadata": {"labels": {"app": "stuck"},
                                           "annotations": {"phasegate.dev/fail": "never-ready"}},
                              "spec": {"containers": [{"name": "c",
                                                       "image": held_image(cluster)}]}}}}))
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: stuck}\n"
                    "target: {context: phasegate-local, namespace: default}\n"
                    "tracers:\n  - name: stuck\n    apply: stuck.yaml\n"
                    "    gate: [{k8s.rollout: {name: stuck}}]\n    timeout: 2m\n")
    command = [PHASEGATE, "tracer", str(plan), "--kubeconfig", str(cluster.kubeconfig),
               "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "r")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # the tracer's gate says when it waits: stop it then
        seen.append(line)
        if line.startswith("… [0 · tracer stuck · gate]"):
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, out + "".join(seen) + err
    with sqlite3.connect(tmp_path / "e.db") as db:
        status = db.execute("select status from runs").fetchone()[0]
        cleanup = db.execute("select status from steps where name like 'tracer cleanup%'")
        assert status == "interrupted"
        assert cleanup.fetchone() == ("passed",)


def test_shop_example_end_to_end_with_real_images(
    real_cluster: SandboxInfo, tmp_path: Path, fresh_real_namespace: str
) -> None:
    # The shop runs on the real node: its API's readiness probe and http gate are real.
    cluster, fresh_namespace = real_cluster, fresh_real_namespace
    assert cluster.registry, "the sandbox runs a registry holding the example images"
    plan = str(EXAMPLES / "shop" / "plan.yaml")
    result = phasegate("run", plan, "--yes", "--json", "--input",
                       f"@{EXAMPLES / 'shop' / 'values.yaml'}",
                       *args(cluster, tmp_path, fresh_namespace))
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert [p["status"] for p in document["phases"]] == ["passed"] * 4
    evidence = Path(document["files"]["evidence"]).read_text()
    assert f"{cluster.registry}/shop/api:1.4.2" in evidence  # the image was checked for real
    assert "divergence check" in evidence
    record = Path(document["files"]["deployment_record"]).read_text()
    assert f"Job {fresh_namespace}/migrate" in record and "Complete=True" in record
    assert "GET /health on service api:80 (API server proxy)" in evidence
    assert "HTTP 200 in" in evidence

    broken = phasegate("run", plan, "--yes", "--json", "--input",
                       f"@{EXAMPLES / 'shop' / 'values.yaml'}", "--input", "api_tag=9.9.9",
                       *args(cluster, tmp_path, f"{fresh_namespace}-x"))
    assert broken.returncode == 1
    stopped = json.loads(broken.stdout)
    assert stopped["stopped_at"] == "R" and "tag not found" in stopped["detail"]


def test_resume_never_skips_approval(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str
) -> None:
    plan = str(EXAMPLES / "quota-rollback" / "plan.yaml")
    refused = phasegate("apply", plan, "--json", "--input", "max_deployments=5",
                        *args(cluster, tmp_path, fresh_namespace))
    assert refused.returncode == 2
    run_id = json.loads(refused.stdout)["run_id"]
    store = ["--store", str(tmp_path / "e.db")]
    again = phasegate("resume", run_id, "--json", *store)
    assert again.returncode == 2 and "approval needed" in json.loads(again.stdout)["detail"]
    approved = phasegate("resume", run_id, "--yes", "--json", *store)
    assert approved.returncode == 0, approved.stdout + approved.stderr


def test_secret_values_never_reach_the_journal(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    import base64

    original = "s3cr3t-original-value-7731"
    encoded = base64.b64encode(original.encode()).decode()
    with connect(cluster) as api:
        api.create(f"/api/v1/namespaces/{namespace}/secrets", {
            "metadata": {"name": "creds"}, "data": {"password": encoded}})
    (tmp_path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
        "stringData: {password: rotated-value}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: rotate}\n"
        f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
        "phases:\n  - name: rotate\n    apply: secret.yaml\n"
        "    gate: [{k8s.exists: {kind: ConfigMap, name: never-there}}]\n    timeout: 1s\n")
    result = phasegate("apply", str(plan), "--yes", "--json", "--kubeconfig",
                       str(cluster.kubeconfig), "--store", str(tmp_path / "e.db"),
                       "--reports", str(tmp_path / "r"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not restored" in json.loads(result.stdout)["detail"]
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("e.db"))
    for form in (original, encoded):
        assert form.encode() not in stored
    reports = "".join(p.read_text() for p in (tmp_path / "r").iterdir())
    assert original not in reports and encoded not in reports



def test_a_phase_that_fixes_a_crash_looping_deployment_passes_and_stays_fixed(
    cluster: SandboxInfo, tmp_path: Path, namespace: str
) -> None:
    def api_deployment(annotations: dict[str, str]) -> str:
        labels = {"app": "api"}
        return json.dumps({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {"containers": [{"name": "api",
                                         "image": f"{cluster.registry}/shop/api:1.4.2"}]}}}})

    def plan(name: str, gate: str) -> str:
        path = tmp_path / f"{name}.plan.yaml"
        path.write_text(
            f"apiVersion: phasegate/v1\nkind: Plan\nmetadata: {{name: {name}}}\n"
            f"target: {{context: phasegate-local, namespace: {namespace}}}\n"
            f"phases:\n  - name: {name}\n    apply: api.yaml\n"
            f"    gate: [{gate}]\n    timeout: 1m\n    rollback: auto\n")
        return str(path)

    cli = ["--yes", "--json", "--kubeconfig", str(cluster.kubeconfig),
           "--store", str(tmp_path / "e.db"), "--reports", str(tmp_path / "r")]
    (tmp_path / "api.yaml").write_text(api_deployment({"phasegate.dev/fail": "crashloop"}))
    broken = phasegate("apply", plan("break", "{k8s.exists: {kind: Deployment, name: api}}"),
                       *cli)
    assert broken.returncode == 0, broken.stdout + broken.stderr
    with connect(cluster) as api:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the broken pods crash-loop before the fix
            pods = api.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
            if len(pods) == 2 and all("CrashLoopBackOff" in json.dumps(p.get("status"))
                                      for p in pods):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the broken Deployment's pods never crash-looped")

    (tmp_path / "api.yaml").write_text(api_deployment({}))
    fixed = phasegate("apply", plan("fix", "{k8s.rollout: {name: api}}"), *cli)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    with connect(cluster) as api:
        live = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/api")
    assert "phasegate.dev/fail" not in live["spec"]["template"]["metadata"].get(
        "annotations", {}), "the fix was rolled back"


def test_tracer_cleanup_deletes_only_the_object_it_made(
    cluster: SandboxInfo, tmp_path: Path, namespace: str, kubectl: str
) -> None:
    """Someone replaces the tracer's ConfigMap (same name, new UID) while its gate runs:
    the cleanup removes the tracer's own object only, and leaves the other one alone."""
    (tmp_path / "tracer.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe-me}\ndata: {by: tracer}\n")
    replace = (f"{kubectl} --kubeconfig {cluster.kubeconfig} -n {namespace} delete "
               f"configmap probe-me --wait && {kubectl} --kubeconfig {cluster.kubeconfig} "
               f"-n {namespace} create configmap probe-me --from-literal=by=someone")
    plan = tmp_path / "plan.yaml"
    plan.write_text(json.dumps({
        "apiVersion": "phasegate/v1", "kind": "Plan", "metadata": {"name": "tracer-uid"},
        "target": {"context": "phasegate-local", "namespace": namespace},
        "tracers": [{"name": "replaced", "apply": "tracer.yaml", "namespace": namespace,
                     "gate": [{"command": {"run": replace, "shell": True}}]}],
        "phases": [],
    }))
    result = phasegate("tracer", str(plan), "--json", *args(cluster, tmp_path, namespace))
    assert result.returncode == 0, result.stdout + result.stderr
    with connect(cluster) as api:
        left = api.get(f"/api/v1/namespaces/{namespace}/configmaps/probe-me")
    assert left is not None and left["data"] == {"by": "someone"}
    cleanup = [s for s in steps(tmp_path, json.loads(result.stdout)["run_id"])
               if "cleanup" in s[1]]
    assert cleanup and cleanup[0][2] == "passed"
