"""phasegate against ``helm upgrade --install --wait`` on the public podinfo chart, on one
sandbox, in the same run.

Each round, in fresh namespaces and taking turns first, the chart (its image retagged into
the sandbox registry, 3 replicas) is installed, then upgraded to another image tag (a new
rollout of every pod), once by phasegate (a helm phase: ``helm upgrade --install`` without
helm's wait, then phasegate's gate over every object of the release, by watch) and once by
``helm upgrade --install --wait`` (helm v3 polls its known kinds).

Timed: from the start of the upgrade to "ready". For helm, the whole ``helm upgrade
--install --wait`` process; and, beside it, until the Deployment's rollout is complete
(every replica new and available, no old one: what phasegate's ``k8s.ready`` waits for;
helm v3 returns once replicas - maxUnavailable new pods are ready). For phasegate, from
the start of its helm step to the end of its gate (both from its store: the CLI's start
and its preview are not part of the upgrade), and the whole ``phasegate apply --yes``
process beside it. The same helm binary (``harness/helm.sh``) runs both. The last line is
one JSON object with medians and ratios.

Usage: python bench/helm_wait.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import processes

from phasegate import sandbox
from phasegate.sandbox import registry as sandbox_registry
from phasegate.sandbox.api import wait_for
from phasegate.store.evidence import EvidenceStore

PHASEGATE = str(Path(sys.executable).parent / "phasegate")


CHART = processes.public("podinfo-chart")
GOAL = 0.8
TAGS = ("6.14.1", "6.14.2")


class Bench:
    def __init__(self, info: sandbox.SandboxInfo, helm: str, work: Path) -> None:
        self.info, self.helm, self.work = info, helm, work
        self.log = work / "commands.log"
        self.api = sandbox.connect(info)
        self.env = {**os.environ, "PHASEGATE_HELM": helm}

    def values(self, tag: str) -> Path:
        path = self.work / f"values-{tag}.yaml"
        path.write_text(
            f"replicaCount: 3\nhpa: {{enabled: false}}\n"
            f"image: {{repository: {self.info.registry}/stefanprodan/podinfo, tag: '{tag}'}}\n")
        return path

    def namespace(self, name: str) -> None:
        processes.create_namespace(self.api, name)

    def drop(self, name: str) -> None:
        processes.drop_namespace(self.api, name)

    def run_helm(self, ns: str, tag: str) -> dict[str, float]:
        start = time.monotonic()
        seconds = processes.measured(
            [self.helm, "upgrade", "--install", "web", str(CHART), "--namespace", ns,
             "--values", str(self.values(tag)), "--wait", "--timeout", "300s",
             "--kubeconfig", str(self.info.kubeconfig),
             "--kube-context", self.info.admin_context], self.log)["s"]
        # helm v3's --wait returns once replicas - maxUnavailable pods of the new ReplicaSet
        # are ready; the rollout (every pod new and available, no old one) ends later
        path = f"/apis/apps/v1/namespaces/{ns}/deployments/web-podinfo"
        wait_for("rollout complete", lambda: rolled_out(self.api.get(path)), 300, interval=0.02)
        return {"s": seconds, "process_s": seconds, "rolled_out_s": time.monotonic() - start}

    def run_phasegate(self, ns: str, tag: str, name: str) -> dict[str, float]:
        plan = self.work / f"{name}-plan.yaml"
        plan.write_text(json.dumps({
            "apiVersion": "phasegate/v1", "kind": "Plan", "metadata": {"name": "podinfo"},
            "target": {"context": self.info.admin_context, "namespace": ns},
            "phases": [{"name": "web", "timeout": "5m", "helm": {
                "release": "web", "path": str(CHART), "values": [str(self.values(tag))]}}],
        }))
        store = self.work / f"{name}.db"
        process = processes.measured(
            [PHASEGATE, "apply", str(plan), "--yes", "--store", str(store),
             "--kubeconfig", str(self.info.kubeconfig)], self.log, self.env)["s"]
        return {**upgrade_to_ready(store), "process_s": process}


def rolled_out(deployment: dict[str, Any] | None) -> bool:
    """kstatus's Current for a Deployment, as phasegate's gate judges it."""
    if deployment is None:
        return False
    spec, status = deployment["spec"], deployment.get("status") or {}
    want = spec.get("replicas", 1)
    return (status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == want and status.get("replicas") == want
            and status.get("availableReplicas") == want and status.get("readyReplicas") == want)


def upgrade_to_ready(store_path: Path) -> dict[str, float]:
    """From the start of the helm step to the end of the gate, and the two apart."""
    bundle = EvidenceStore(str(store_path)).load("latest")
    helm = next(s for s in bundle.steps if s.stage == "I" and s.kind == "apply")
    gate = next(s for s in bundle.steps if s.stage == "I" and s.kind == "gate")
    assert helm.finished is not None and gate.finished is not None
    return {"s": (gate.finished - helm.started).total_seconds(),
            "helm_step_s": (helm.finished - helm.started).total_seconds(),
            "gate_s": (gate.finished - gate.started).total_seconds()}


def one_round(bench: Bench, round_: int) -> dict[str, dict[str, float]]:
    order = ["helm", "phasegate"] if round_ % 2 == 0 else ["phasegate", "helm"]
    results: dict[str, dict[str, float]] = {}
    for tool in order:
        ns = f"helm-wait-{tool}-{round_}"
        bench.namespace(ns)
        try:
            for step, tag in (("install", TAGS[0]), ("upgrade", TAGS[1])):
                if tool == "helm":
                    got = bench.run_helm(ns, tag)
                else:
                    got = bench.run_phasegate(ns, tag, f"{step}-{round_}")
                results.setdefault(tool, {}).update(
                    {f"{step}_{key}": value for key, value in got.items()})
        finally:
            bench.drop(ns)
    return results


def summary(rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    per_tool = {tool: {key: round(statistics.median(r[tool][key] for r in rounds), 2)
                       for key in sorted(rounds[0][tool])} for tool in ("helm", "phasegate")}
    ratios = [r["phasegate"]["upgrade_s"] / r["helm"]["upgrade_s"] for r in rounds]
    ratio = round(statistics.median(ratios), 2)
    # against the moment the rollout helm started was complete (what phasegate waits for)
    to_done = [r["phasegate"]["upgrade_s"] / r["helm"]["upgrade_rolled_out_s"] for r in rounds]
    return {**per_tool, "ratio_median": ratio, "ratios": [round(x, 2) for x in ratios],
            "goal_ratio": GOAL, "ratio_goal_met": ratio <= GOAL,
            "ratio_to_rolled_out_median": round(statistics.median(to_done), 2),
            "ratios_to_rolled_out": [round(x, 2) for x in to_done]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    helm = processes.harness_tool("helm.sh", "PHASEGATE_HELM")
    info = sandbox.up(nodes=2, name="bench-helm")
    rounds: list[dict[str, dict[str, float]]] = []
    try:
        assert info.registry is not None
        certs = str(sandbox_registry.certs_dir(info.registry))
        for tag in TAGS:  # the chart's image, retagged into the sandbox registry
            subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet",
                            "--src-cert-dir", certs, "--dest-cert-dir", certs,
                            f"docker://{info.registry}/shop/api:1.4.2",
                            f"docker://{info.registry}/stefanprodan/podinfo:{tag}"],
                           check=True, timeout=60)
        with tempfile.TemporaryDirectory(prefix="helm-wait-") as tmp:
            bench = Bench(info, helm, Path(tmp))
            for round_ in range(args.rounds):
                result = one_round(bench, round_)
                rounds.append(result)
                print(f"round {round_ + 1}: " + ", ".join(
                    f"{tool} upgrade {r['upgrade_s']:.2f}s" for tool, r in result.items()),
                    file=sys.stderr, flush=True)
            bench.api.close()
    finally:
        sandbox.down(info)
    print(json.dumps({"bench": "helm_wait", "rounds": args.rounds, "cpus": os.cpu_count(),
                      "load_avg_1m": round(os.getloadavg()[0], 2),
                      "helm": subprocess.run([helm, "version", "--short"], capture_output=True,
                                             text=True).stdout.strip(),
                      "figures": summary(rounds)}))


if __name__ == "__main__":
    main()
