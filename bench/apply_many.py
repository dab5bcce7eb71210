"""phasegate against kubectl on many objects, on one sandbox, in the same run.

Two scenarios, each in fresh namespaces, kubectl and phasegate taking turns first:

- ``deploy200``: one phase of 200 objects (67 Deployments of an image the sandbox registry
  holds, 67 Services, 66 ConfigMaps) applied and gated until every Deployment is Available
  (``phasegate apply --yes``: preview, apply, gate) against ``kubectl apply --server-side``
  then ``kubectl wait --for=condition=Available``. Goal: <= 0.8x kubectl, peak RSS <= 200 MB.
- ``configmaps1000``: one phase of 1,000 ConfigMaps (``phasegate apply --yes``: preview and
  apply, no gate) against ``kubectl apply --server-side``. Goal: <= 1.0x kubectl.

Every command runs as its own process, timed from start to exit, with its peak RSS from
``wait4``. kubectl is the upstream build of the cluster's version (``harness/kubectl.sh``,
built once into the cache). phasegate's time is split into its stages from the run's
steps in its store, and its CPU seconds are given beside kubectl's. The last line is one
JSON object with medians and ratios.

Usage: python bench/apply_many.py [--rounds 3] [--only deploy200|configmaps1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import processes
import yaml

from phasegate import sandbox
from phasegate.store.evidence import EvidenceStore

PHASEGATE = str(Path(sys.executable).parent / "phasegate")
GOALS = {"deploy200": 0.8, "configmaps1000": 1.0}
RSS_GOAL_MB = 200


def deploy200(image: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    objects: list[dict[str, Any]] = []
    gate = []
    for n in range(67):
        name = f"app-{n:03}"
        labels = {"app": name}
        if n < 66:
            objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                            "data": {"greeting": f"hello {n}", "level": "info"}})
        objects.append({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}})
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                        "spec": {"selector": labels, "ports": [{"port": 80}]}})
        gate.append({"k8s.condition": {"kind": "Deployment", "name": name,
                                       "condition": "Available"}})
    return objects, gate


def configmaps1000() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{n:04}"},
             "data": {"n": str(n), "text": "x" * 200}} for n in range(1000)], []


class Bench:
    def __init__(self, info: sandbox.SandboxInfo, kubectl: str, work: Path) -> None:
        self.info, self.kubectl, self.work = info, kubectl, work
        self.log = work / "commands.log"
        self.api = sandbox.connect(info)

    def k(self, *args: str) -> list[str]:
        return [self.kubectl, "--kubeconfig", str(self.info.kubeconfig),
                "--context", self.info.admin_context, *args]

    def namespace(self, name: str) -> None:
        processes.create_namespace(self.api, name)

    def drop(self, name: str) -> None:
        processes.drop_namespace(self.api, name)

    def run_kubectl(self, ns: str, manifest: Path, gated: bool) -> dict[str, Any]:
        applied = processes.measured(
            self.k("apply", "--server-side", "-n", ns, "-f", str(manifest)), self.log)
        result = {"s": applied["s"], "apply_s": applied["s"], "rss_mb": applied["rss_mb"],
                  "cpu_s": applied["cpu_s"]}
        if gated:
            waited = processes.measured(self.k("wait", "-n", ns, "--for=condition=Available",
                                     "deployment", "--all", "--timeout=300s"), self.log)
            result.update(s=applied["s"] + waited["s"], wait_s=waited["s"],
                          rss_mb=max(applied["rss_mb"], waited["rss_mb"]),
                          cpu_s=applied["cpu_s"] + waited["cpu_s"])
        return result

    def run_phasegate(self, ns: str, manifest: Path, gate: list[dict[str, Any]],
                      name: str) -> dict[str, Any]:
        plan = self.work / f"{name}-plan.yaml"
        plan.write_text(json.dumps({
            "apiVersion": "phasegate/v1", "kind": "Plan", "metadata": {"name": name},
            "target": {"context": self.info.admin_context, "namespace": ns},
            "phases": [{"name": "many", "apply": manifest.name, "gate": gate,
                        "timeout": "5m"}],
        }))
        store = self.work / f"{name}.db"
        result = processes.measured([PHASEGATE, "apply", str(plan), "--yes", "--store", str(store),
                           "--kubeconfig", str(self.info.kubeconfig)], self.log)
        result.update(stages(store))
        return result


def stages(store_path: Path) -> dict[str, float]:
    """Seconds per step of the run: the plan preview, the apply, the gate."""
    store = EvidenceStore(str(store_path))
    bundle = store.load("latest")
    found = {}
    for step in bundle.steps:
        if step.finished is None:
            continue
        key = ("preview_s" if step.stage == "P" else "apply_s" if step.name.endswith("apply")
               else "gate_s" if step.name.endswith("gate") else None)
        if key:
            found[key] = round((step.finished - step.started).total_seconds(), 2)
    return found


def scenario(bench: Bench, name: str, build: Callable[[], tuple[list[Any], list[Any]]],
             round_: int) -> dict[str, dict[str, Any]]:
    objects, gate = build()
    manifest = bench.work / f"{name}.yaml"
    manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    order = ["kubectl", "phasegate"] if round_ % 2 == 0 else ["phasegate", "kubectl"]
    results: dict[str, dict[str, Any]] = {}
    for tool in order:
        ns = f"{name}-{tool}-{round_}"
        bench.namespace(ns)
        try:
            if tool == "kubectl":
                results[tool] = bench.run_kubectl(ns, manifest, bool(gate))
            else:
                results[tool] = bench.run_phasegate(ns, manifest, gate, f"{name}-{round_}")
        finally:
            bench.drop(ns)
    return results


def summary(samples: dict[str, list[dict[str, dict[str, Any]]]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, rounds in samples.items():
        per_tool: dict[str, Any] = {}
        for tool in ("kubectl", "phasegate"):
            keys = sorted({k for r in rounds for k in r[tool]})
            per_tool[tool] = {k: round(statistics.median(r[tool][k] for r in rounds
                                                         if k in r[tool]), 2) for k in keys}
            per_tool[tool]["rss_mb_max"] = round(max(r[tool]["rss_mb"] for r in rounds), 1)
        ratios = [r["phasegate"]["s"] / r["kubectl"]["s"] for r in rounds]
        ratio = round(statistics.median(ratios), 2)
        cpu = statistics.median(r["phasegate"]["cpu_s"] / r["kubectl"]["cpu_s"] for r in rounds)
        figures[name] = {**per_tool, "ratio_median": ratio,
                         "ratios": [round(x, 2) for x in ratios],
                         "cpu_ratio_median": round(cpu, 2),
                         "goal_ratio": GOALS[name],
                         "ratio_goal_met": ratio <= GOALS[name],
                         "rss_goal_met": per_tool["phasegate"]["rss_mb_max"] <= RSS_GOAL_MB}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=sorted(GOALS))
    args = parser.parse_args()
    kubectl = processes.harness_tool("kubectl.sh")
    info = sandbox.up(nodes=2, name="bench-apply")
    samples: dict[str, list[dict[str, dict[str, Any]]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="apply-many-") as tmp:
            bench = Bench(info, kubectl, Path(tmp))
            image = f"{info.registry}/shop/api:1.4.2"
            builders: dict[str, Callable[[], tuple[list[Any], list[Any]]]] = {
                "deploy200": lambda: deploy200(image), "configmaps1000": configmaps1000}
            for round_ in range(args.rounds):
                for name, build in builders.items():
                    if args.only and name != args.only:
                        continue
                    result = scenario(bench, name, build, round_)
                    samples.setdefault(name, []).append(result)
                    print(f"round {round_ + 1} {name}: " + ", ".join(
                        f"{tool} {r['s']:.2f}s ({r['rss_mb']:.0f} MB)"
                        for tool, r in result.items()), file=sys.stderr, flush=True)
            bench.api.close()
    finally:
        sandbox.down(info)
    print(json.dumps({"bench": "apply_many", "rounds": args.rounds,
                      "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
                      "rss_goal_mb": RSS_GOAL_MB, "figures": summary(samples)}))


if __name__ == "__main__":
    main()
