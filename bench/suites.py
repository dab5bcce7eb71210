"""kuttl and Chainsaw suites under phasegate: the assert latency, and the wall time of the
peers' own suites.

Assert latency, each trial: a ConfigMap exists with ``data.state: waiting``; three waiters
already wait for a kuttl assert on it (``data.state: done``): phasegate's gate of the
assert (``k8s.match``, watch-based, in its own process as a suite run has it), a 50 ms
poller (Chainsaw's ``PollInterval``) and a 1 s poller (kuttl's), both asking the API server
and matching with the same subset rule. At a known instant the ConfigMap is patched to
``done``; each waiter's latency is the time from the patch to its return. Goal: phasegate's
p50 at most 0.5x the 50 ms poller's.

Wall time: ``phasegate suite run`` of kuttl's harness cases, of its junit suites and of
Chainsaw's examples (``--timeout 3s``, as the tests run them; its ``wait`` example alone
waits a minute for an image no registry here holds), the whole process and the run as its
store recorded it. The last line is one JSON object.

Usage: python bench/suites.py [--trials 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import processes

from phasegate import sandbox
from phasegate.probes import subset
from phasegate.store.evidence import EvidenceStore

PHASEGATE = str(Path(sys.executable).parent / "phasegate")
NAMESPACE = "bench-suites"
GOAL = 0.5
EXPECTED = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"state": "done"}}


def expected(name: str) -> dict[str, Any]:
    return {**EXPECTED, "metadata": {"name": name}}


def matches(name: str) -> Callable[[Any], bool]:
    """The kuttl assert, as the pollers ask it: the same subset rule."""
    return lambda found: found is not None and subset.mismatch(expected(name), found) is None



def trial(info: sandbox.SandboxInfo, api: sandbox.Api, number: int) -> dict[str, float]:
    name = f"c{number}"
    base = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    api.create(base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                      "data": {"state": "waiting"}})
    done: dict[str, float] = {}
    ours = subprocess.Popen([sys.executable, __file__, "--waiter", str(info.kubeconfig),
                             info.admin_context, name], stdout=subprocess.PIPE, text=True)
    assert ours.stdout is not None
    # on a loaded machine the waiter's start takes seconds: flip only once it has looked
    waiting = ours.stdout.readline().strip() == "waiting"

    def collect() -> None:
        out, _ = ours.communicate()
        if out.strip():
            done["phasegate"] = float(out.strip().splitlines()[-1])

    threading.Thread(target=collect).start()
    for interval, key in ((0.05, "poll_50ms"), (1.0, "poll_1s")):
        threading.Thread(target=processes.poller, args=(api, f"{base}/{name}", matches(name),
                                                        interval, done, key)).start()
    time.sleep(1.5)  # the pollers have started; phasegate's watch is open
    assert waiting, "the phasegate waiter did not start"
    flipped = time.monotonic()
    api.request("PATCH", f"{base}/{name}", {"data": {"state": "done"}},
                content_type="application/merge-patch+json").raise_for_status()
    deadline = time.monotonic() + 10
    while len(done) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    return {key: (at - flipped) * 1000 for key, at in done.items()}



def waiter(kubeconfig: str, context: str, name: str) -> None:
    processes.gate_waiter(kubeconfig, context, NAMESPACE, {"k8s.match": {"object": expected(name)}})


def suite_wall(info: sandbox.SandboxInfo, work: Path, name: str, *args: str) -> dict[str, float]:
    store = work / f"{name}.db"
    started = time.monotonic()
    done = subprocess.run(
        [PHASEGATE, "--json", "suite", "run", *args, "--kubeconfig", str(info.kubeconfig),
         "--context", info.admin_context, "--store", str(store), "--reports",
         str(work / name)], capture_output=True, text=True, timeout=600,
        env={**os.environ,
             "PHASEGATE_KUBECTL": processes.harness_tool("kubectl.sh", "PHASEGATE_KUBECTL")})
    wall = time.monotonic() - started
    result = json.loads(done.stdout)
    evidence = EvidenceStore(str(store))
    run = evidence.load(result["run_id"]).run
    recorded = (run.finished - run.started).total_seconds() if run.finished else wall
    evidence.close()
    tests = result["tests"]
    return {"process_s": round(wall, 2), "run_s": round(recorded, 2), "tests": len(tests),
            "passed": sum(1 for ok in tests.values() if ok)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--waiter", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.waiter:
        waiter(*args.waiter)
        return
    info = sandbox.up(nodes=2, name="bench-suites", registry=True)  # Chainsaw's pods pull
    samples: dict[str, list[float]] = {}
    try:
        with sandbox.connect(info) as api:
            api.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
            for number in range(args.trials):
                for key, value in trial(info, api, number).items():
                    samples.setdefault(key, []).append(value)
                print(f"trial {number + 1}/{args.trials}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="bench-suites-") as tmp:
            junit = processes.public("kuttl-suites/test/junit")
            walls = {
                "kuttl_harness": suite_wall(info, Path(tmp), "harness", str(processes.public(
                    "kuttl-suites/internal/harness/test_data"))),
                # the failing assert re-runs `false` until its timeout: 2 s, as in the tests
                "kuttl_junit": suite_wall(info, Path(tmp), "junit", str(junit / "suite1"),
                                          str(junit / "suite2"), "--timeout", "2s"),
                "chainsaw_examples": suite_wall(info, Path(tmp), "chainsaw", str(
                    processes.public("chainsaw-examples")), "--timeout", "3s"),
            }
    finally:
        sandbox.down(info)
    figures = {key: {"n": len(v), "p50_ms": round(statistics.median(v), 1),
                     "p95_ms": round(processes.percentile(v, 0.95), 1)}
               for key, v in samples.items()}
    for key, figure in figures.items():
        print(f"{key:10} n={figure['n']:3}  p50 {figure['p50_ms']:8.1f} ms  "
              f"p95 {figure['p95_ms']:8.1f} ms", file=sys.stderr)
    ours = figures["phasegate"]["p50_ms"]
    ratios = {"phasegate_vs_poll_50ms_p50": round(ours / figures["poll_50ms"]["p50_ms"], 2),
              "phasegate_vs_poll_1s_p50": round(ours / figures["poll_1s"]["p50_ms"], 3)}
    print(json.dumps({"bench": "suites", "trials": args.trials, "cpus": os.cpu_count(),
                      "load_avg_1m": round(os.getloadavg()[0], 2), "figures": figures,
                      "wall": walls, "ratios": ratios,
                      "goals": {"half_of_50ms_poller_p50":
                                ratios["phasegate_vs_poll_50ms_p50"] <= GOAL}}))


if __name__ == "__main__":
    main()
