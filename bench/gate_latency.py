"""Latency from a condition becoming true to the gate passing, against the local sandbox.

Each trial: a custom resource's Ready condition is flipped to True at a known instant, while
four waiters already wait on it: phasegate's gate (watch-based), `kubectl wait`, a 1 s polling
loop (kuttl's interval) and a 2 s one (Helm's legacy wait). Each waiter's latency is the time
from the flip to its return. Goal: phasegate's p50 within 1.2x of kubectl wait and >= 10x
faster than the 1 s poller. The last line is one JSON object.

Usage: python bench/gate_latency.py [--trials 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import processes

from phasegate import sandbox

KUBECTL = str(Path(sys.executable).parent / "kubectl")
NAMESPACE = "bench-latency"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "signals.bench.phasegate.dev"},
    "spec": {"group": "bench.phasegate.dev", "scope": "Namespaced",
             "names": {"plural": "signals", "singular": "signal", "kind": "Signal"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


def ready(obj: dict[str, object] | None) -> bool:
    status = (obj or {}).get("status") or {}
    for condition in status.get("conditions", []) if isinstance(status, dict) else []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return True
    return False



def trial(info: sandbox.SandboxInfo, api: sandbox.Api, number: int) -> dict[str, float]:
    name = f"s{number}"
    base = f"/apis/bench.phasegate.dev/v1/namespaces/{NAMESPACE}/signals"
    api.create(base, {"apiVersion": "bench.phasegate.dev/v1", "kind": "Signal",
                      "metadata": {"name": name}, "spec": {}})
    done: dict[str, float] = {}
    def start_kubectl() -> None:
        kubectl = subprocess.Popen(
            [KUBECTL, "--kubeconfig", str(info.kubeconfig), "--context", info.admin_context,
             "-n", NAMESPACE, "wait", "--for=condition=Ready", f"signals/{name}",
             "--timeout=30s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        threading.Thread(target=lambda: (kubectl.wait(), done.__setitem__(
            "kubectl_wait", time.monotonic()))).start()

    def start_phasegate() -> None:
        # phasegate waits in its own process, as kubectl does, and reports the (system-wide)
        # monotonic clock at the moment its gate passed
        ours = subprocess.Popen([sys.executable, __file__, "--waiter", str(info.kubeconfig),
                                 info.admin_context, name], stdout=subprocess.PIPE, text=True)
        assert ours.stdout is not None
        # on a loaded machine Python's start takes seconds: go on once its gate waits, so the
        # flip finds it watching as it finds kubectl (a Go binary, up in milliseconds)
        assert ours.stdout.readline().strip() == "waiting", "the phasegate waiter did not start"

        def collect() -> None:
            out, _ = ours.communicate()
            if out.strip():
                done["phasegate"] = float(out.strip().splitlines()[-1])

        threading.Thread(target=collect).start()

    for interval, key in ((1.0, "poll_1s"), (2.0, "poll_2s")):
        threading.Thread(target=processes.poller,
                         args=(api, f"{base}/{name}", ready, interval, done, key)).start()
    # The API server sends an event to its watchers one after another: alternate which
    # waiter starts watching first, so neither is always served first.
    first, second = ((start_kubectl, start_phasegate) if number % 2 == 0
                     else (start_phasegate, start_kubectl))
    first()
    time.sleep(1.0)
    second()
    time.sleep(1.5)  # every waiter is started and watching
    flipped = time.monotonic()
    api.request("PATCH", f"{base}/{name}/status",
                {"status": {"conditions": [{"type": "Ready", "status": "True",
                                            "reason": "Bench", "observedGeneration": 1}]}},
                content_type="application/merge-patch+json").raise_for_status()
    deadline = time.monotonic() + 10
    while len(done) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    return {key: (at - flipped) * 1000 for key, at in done.items()}



def waiter(kubeconfig: str, context: str, name: str) -> None:
    processes.gate_waiter(kubeconfig, context, NAMESPACE, {"k8s.condition": {
        "kind": "Signal", "name": name, "condition": "Ready"}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--waiter", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.waiter:
        waiter(*args.waiter)
        return
    info = sandbox.up(nodes=1, name="bench-latency")
    try:
        with sandbox.connect(info) as api:
            api.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
            api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
            time.sleep(2)  # Established
            samples: dict[str, list[float]] = {}
            for number in range(args.trials):
                for key, value in trial(info, api, number).items():
                    samples.setdefault(key, []).append(value)
                print(f"trial {number + 1}/{args.trials}", file=sys.stderr)
    finally:
        sandbox.down(info)
    figures = {key: {"n": len(v), "p50_ms": round(statistics.median(v), 1),
                     "p95_ms": round(processes.percentile(v, 0.95), 1)}
               for key, v in samples.items()}
    for key, figure in figures.items():
        print(f"{key:14} n={figure['n']:3}  p50 {figure['p50_ms']:8.1f} ms  "
              f"p95 {figure['p95_ms']:8.1f} ms")
    ours = figures["phasegate"]["p50_ms"]
    ratios = {
        "phasegate_vs_kubectl_wait_p50": round(ours / figures["kubectl_wait"]["p50_ms"], 2),
        "poll_1s_vs_phasegate_p50": round(figures["poll_1s"]["p50_ms"] / ours, 1),
        "poll_2s_vs_phasegate_p50": round(figures["poll_2s"]["p50_ms"] / ours, 1),
    }
    print(json.dumps({"bench": "gate_latency", "trials": args.trials, "figures": figures,
                      "ratios": ratios,
                      "goals": {
                          "within_1_2x_of_kubectl_wait":
                              ratios["phasegate_vs_kubectl_wait_p50"] <= 1.2,
                          "10x_faster_than_1s_poll": ratios["poll_1s_vs_phasegate_p50"] >= 10,
                      }}))


if __name__ == "__main__":
    main()
