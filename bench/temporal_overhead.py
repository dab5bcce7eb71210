"""The Temporal engine against the local engine, in the same run, on one sandbox and one
Temporal dev server (``temporal server start-dev --db-filename``) with one worker.

1. Overhead: the same plan (the shop example on a sandbox with a real node, or ``--plan
   small``: a tracer and two phases on KWOK nodes) run by ``phasegate run --yes`` and by
   ``phasegate run --engine temporal --wait --yes``, taking turns first, each in a fresh
   namespace. Timed from the store (run start to finish: what the engines themselves
   add, not the CLI's start-up) and as whole processes. Per-step overhead is the
   difference over the activities the Temporal run scheduled (counted in its Temporal
   history), per round; the median of the rounds, with their spread.
2. Concurrency: N runs (default 50) of a one-phase plan (a ConfigMap in a namespace of its
   own) started at once on the one worker: errors, throughput, p95 run time (Temporal's
   start to close), against one such run alone measured just before. The floor, in the
   same run on the same server: one, then N trivial workflows at once with as many no-op
   activities each as the phasegate run scheduled, on a worker with the same settings
   (``bench/temporal_floor.py``) — what Temporal and the machine cost without phasegate.

Goal: per-step overhead ≤ 60 ms; N concurrent runs with no error and p95 ≤ 3 times a single
run. The last line is one JSON object with the figures and ratios.

Usage: python bench/temporal_overhead.py [--rounds 5] [--concurrent 50] [--plan shop|small]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import processes
import temporal_floor

from phasegate import sandbox
from phasegate.sandbox.api import wait_for
from phasegate.store.evidence import EvidenceStore

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PHASEGATE = str(BIN / "phasegate")
STEP_GOAL_MS = 60.0
# the dev server's SQLite as phasegate's own store keeps it (a write-ahead log, synced at
# checkpoints): with its default (a rollback journal synced at every commit) one server on
# this machine's disk did about half the workflows a second, for phasegate and floor alike
SERVER_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma",
                  "synchronous=normal"]
P95_GOAL = 3.0

SMALL = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: small}
target: {context: phasegate-local, namespace: "${input.namespace}"}
tracers:
  - name: config-accepted
    apply: tracer.yaml
    gate: [{k8s.exists: {kind: ConfigMap, name: tracer}}]
    timeout: 30s
phases:
  - name: namespace
    apply: namespace.yaml
    gate: [{k8s.exists: {kind: Namespace, name: "${input.namespace}"}}]
    rollback: none
  - name: config
    apply: config.yaml
    timeout: 1m
validate:
  - k8s.exists: {kind: ConfigMap, name: config}
"""
ONE_PHASE = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: one-phase}
target: {context: phasegate-local, namespace: "${input.namespace}"}
phases:
  - name: config
    apply: [namespace.yaml, config.yaml]
    timeout: 1m
"""
MANIFESTS = {
    "tracer.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tracer}\n",
    "namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: \"${input.namespace}\"}\n",
    "config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {a: b}\n",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bench:
    def __init__(self, info: sandbox.SandboxInfo, work: Path, plan: str) -> None:
        self.info, self.work = info, work
        self.log = work / "commands.log"
        self.api = sandbox.connect(info)
        for name, text in MANIFESTS.items():
            (work / name).write_text(text)
        (work / "small.yaml").write_text(SMALL)
        (work / "one-phase.yaml").write_text(ONE_PHASE)
        if plan == "shop":
            self.plan = ROOT / "examples" / "shop" / "plan.yaml"
            self.inputs = ["--input", f"@{ROOT / 'examples' / 'shop' / 'values.yaml'}"]
        else:
            self.plan, self.inputs = work / "small.yaml", []
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.server = subprocess.Popen(
            [str(BIN / "temporal"), "server", "start-dev", "--db-filename",
             str(work / "temporal.db"), "--ip", "127.0.0.1", "--port", str(self.port),
             "--headless", "--log-level", "warn", *SERVER_PRAGMAS], stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT)
        self._until_serving()
        self.store = work / "worker.db"
        self.worker_log = work / "worker.log"
        self.worker = subprocess.Popen(
            [PHASEGATE, "worker", "--temporal", self.address, "--task-queue", "bench",
             "--store", str(self.store)], stdout=self.worker_log.open("ab"),
            stderr=subprocess.STDOUT)
        wait_for("worker serving", lambda: b"worker serving" in self.worker_log.read_bytes(),
                 60)
        self.floor_log = work / "floor.log"
        self.floor = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("temporal_floor.py")), "--address",
             self.address, "--task-queue", "bench-floor"], stdout=self.floor_log.open("ab"),
            stderr=subprocess.STDOUT)
        wait_for("floor worker serving",
                 lambda: b"floor worker serving" in self.floor_log.read_bytes(), 60)
        self.env = {**os.environ, "PHASEGATE_TEMPORAL": self.address,
                    "PHASEGATE_TASK_QUEUE": "bench"}

    def _until_serving(self) -> None:
        def serving() -> bool:
            probe = subprocess.run([str(BIN / "temporal"), "operator", "cluster", "health",
                                    "--address", self.address], capture_output=True, text=True)
            return "SERVING" in probe.stdout

        wait_for("temporal serving", serving, 60, interval=0.2)

    def close(self) -> None:
        for process in (self.floor, self.worker, self.server):
            process.terminate()
            process.wait(20)
        self.api.close()

    def args(self, namespace: str, store: Path) -> list[str]:
        return [*self.inputs, "--input", f"namespace={namespace}",
                "--input", f"registry={self.info.registry}", "--kubeconfig",
                str(self.info.kubeconfig), "--store", str(store),
                "--reports", str(self.work / "reports")]

    def run(self, engine: str, namespace: str) -> dict[str, float]:
        store = self.store if engine == "temporal" else self.work / "local.db"
        extra = ["--engine", "temporal", "--wait"] if engine == "temporal" else []
        process = processes.measured([PHASEGATE, "run", str(self.plan), "--yes", *extra,
                                      *self.args(namespace, store)], self.log, self.env)
        return {**run_figures(store), "process_s": process["s"]}


def run_figures(store: Path, run_id: str = "latest") -> dict[str, float]:
    bundle = EvidenceStore(str(store)).load(run_id)
    assert bundle.run.finished is not None and bundle.run.status == "passed", bundle.run
    return {"run_s": (bundle.run.finished - bundle.run.started).total_seconds(),
            "store_steps": float(len(bundle.steps))}


def latest_run_id(store: Path) -> str:
    return EvidenceStore(str(store)).runs(1)[0].id


async def history(client: Any, workflow_id: str) -> dict[str, float]:
    """What Temporal recorded of one workflow: the activities it scheduled, and its time
    from start to close (queueing included: what a caller waits)."""
    from temporalio.api.enums.v1 import EventType

    handle = client.get_workflow_handle(workflow_id)
    events = (await handle.fetch_history()).events
    scheduled = sum(1 for e in events
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    described = await handle.describe()
    assert described.close_time is not None, workflow_id
    return {"activities": float(scheduled),
            "workflow_s": (described.close_time - described.start_time).total_seconds()}


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else ordered * 3
    return {"min": round(ordered[0], 1), "q1": round(quartiles[0], 1),
            "median": round(statistics.median(ordered), 1), "q3": round(quartiles[2], 1),
            "max": round(ordered[-1], 1)}


def overhead(bench: Bench, rounds: int) -> dict[str, Any]:
    from phasegate.temporal import client

    samples: list[dict[str, dict[str, float]]] = []
    for round_ in range(rounds):
        order = ["local", "temporal"] if round_ % 2 == 0 else ["temporal", "local"]
        result: dict[str, dict[str, float]] = {}
        for engine in order:
            namespace = f"overhead-{engine}-{round_}"
            try:
                result[engine] = bench.run(engine, namespace)
            finally:
                processes.drop_namespace(bench.api, namespace)
        # the activities this run scheduled, counted in its Temporal history
        run_id = latest_run_id(bench.store)
        connected = asyncio.run(client.connect(client.Where(bench.address, "default", "bench")))
        result["temporal"].update(asyncio.run(history(connected, run_id)))
        samples.append(result)
        print(f"round {round_ + 1}: " + ", ".join(
            f"{engine} {r['run_s']:.2f}s" for engine, r in result.items())
            + f", {result['temporal']['activities']:.0f} activities",
            file=sys.stderr, flush=True)
    per_step = [(s["temporal"]["run_s"] - s["local"]["run_s"]) * 1000
                / s["temporal"]["activities"] for s in samples]
    medians = {engine: {key: round(statistics.median(s[engine][key] for s in samples), 3)
                        for key in samples[0][engine]} for engine in ("local", "temporal")}
    step_ms = round(statistics.median(per_step), 1)
    return {**medians, "per_step_overhead_ms": step_ms,
            "per_step_overhead_ms_spread": spread(per_step),
            "per_step_overhead_ms_rounds": [round(x, 1) for x in per_step],
            "ratio_run_s": round(medians["temporal"]["run_s"] / medians["local"]["run_s"], 2),
            "step_goal_ms": STEP_GOAL_MS, "step_goal_met": step_ms <= STEP_GOAL_MS}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def sandbox_pids(info: sandbox.SandboxInfo) -> list[int]:
    """The sandbox's own processes (API server, etcd, KWOK, …): those naming its work
    directory (``phasegate-sandbox-NAME-…``)."""
    where = f"phasegate-sandbox-{info.name}-".encode()
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and where in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[max(0, round(share * len(ordered)) - 1)] if ordered else float("nan")


async def many(connected: Any, starts: list[tuple[str, Any]], task_queue: str,
               kind: Any) -> tuple[list[str], list[str], float]:
    """Start every (workflow, argument) at once and wait for all: their ids, the errors,
    the wall time."""
    from temporalio.client import WorkflowHandle

    from phasegate.store.evidence import new_run_id

    started = time.monotonic()
    handles: list[WorkflowHandle[Any, Any]] = []
    for name, argument in starts:
        workflow_id = getattr(argument, "run_id", None) or f"floor-{new_run_id()}"
        handles.append(await connected.start_workflow(
            name, argument, id=workflow_id, task_queue=task_queue, result_type=kind))
    finals = await asyncio.gather(*(h.result() for h in handles), return_exceptions=True)
    wall = time.monotonic() - started
    errors = [f"{h.id}: {f}" for h, f in zip(handles, finals, strict=True)
              if isinstance(f, BaseException) or getattr(f, "status", "passed") != "passed"]
    return [h.id for h in handles], errors, wall


def figures(times: list[float], alone: float, wall: float, count: int,
            errors: list[str]) -> dict[str, Any]:
    p95 = percentile(times, 0.95)
    return {"errors": len(errors), "error_samples": errors[:3], "wall_s": round(wall, 2),
            "throughput_runs_per_s": round(count / wall, 2), "single_run_s": round(alone, 3),
            "p50_run_s": round(statistics.median(times), 3) if times else float("nan"),
            "p95_run_s": round(p95, 3), "p95_ratio": round(p95 / alone, 2)}


def concurrency(bench: Bench, count: int) -> dict[str, Any]:
    """N phasegate runs at once against N floor workflows at once (as many no-op activities
    each as the phasegate run scheduled), each measured by Temporal (start to close)."""
    from phasegate.plan.loader import load_plan
    from phasegate.temporal import client, steps
    from phasegate.workflow import pipeline

    where = client.Where(bench.address, "default", "bench")
    plan_path = bench.work / "one-phase.yaml"
    options = pipeline.RunOptions(yes=True, kubeconfig=str(bench.info.kubeconfig),
                                  reports_dir=bench.work / "reports")

    def specs(n: int, prefix: str) -> list[tuple[str, Any]]:
        return [(steps.WORKFLOW, client.spec_for(
            load_plan(plan_path, {"namespace": f"{prefix}-{i}"}), options, where))
            for i in range(n)]

    async def measure() -> dict[str, Any]:
        connected = await client.connect(where)
        alone_ids, alone_errors, _ = await many(connected, specs(1, "alone"), "bench",
                                                steps.RunState)
        assert not alone_errors, alone_errors
        alone = await history(connected, alone_ids[0])
        payload = dataclasses.asdict(specs(1, "floor")[0][1])
        floor_run = [(temporal_floor.WORKFLOW, {"activities": alone["activities"],
                                                "payload": payload})]
        floor_ids, floor_errors, _ = await many(connected, floor_run, "bench-floor", int)
        assert not floor_errors, floor_errors
        floor_alone = await history(connected, floor_ids[0])
        processes_ = {"server": [bench.server.pid], "worker": [bench.worker.pid],
                      "floor_worker": [bench.floor.pid], "sandbox": sandbox_pids(bench.info)}
        before = {name: cpu_seconds(pid) for name, pid in processes_.items()}
        floor_ids, floor_errors, floor_wall = await many(
            connected, floor_run * count, "bench-floor", int)
        between = {name: cpu_seconds(pid) for name, pid in processes_.items()}
        ids, errors, wall = await many(connected, specs(count, "many"), "bench",
                                       steps.RunState)
        after = {name: cpu_seconds(pid) for name, pid in processes_.items()}
        times = [(await history(connected, i))["workflow_s"] for i in ids]
        floor_times = [(await history(connected, i))["workflow_s"] for i in floor_ids]
        phasegate = figures(times, alone["workflow_s"], wall, count, errors)
        floor = figures(floor_times, floor_alone["workflow_s"], floor_wall, count,
                        floor_errors)
        # where the CPU went while the N ran: the Temporal server, the workers, the cluster
        phasegate["cpu_s"] = {n: round(after[n] - between[n], 1) for n in processes_}
        floor["cpu_s"] = {n: round(between[n] - before[n], 1) for n in processes_}
        return {"runs": count, "activities_per_run": alone["activities"], **phasegate,
                "p95_goal_ratio": P95_GOAL,
                "goal_met": not errors and phasegate["p95_ratio"] <= P95_GOAL,
                "floor": floor,
                "p95_over_floor_p95": round(phasegate["p95_run_s"] / floor["p95_run_s"], 2),
                "p95_ratio_over_floor_ratio": round(
                    phasegate["p95_ratio"] / floor["p95_ratio"], 2)}

    try:
        return asyncio.run(measure())
    finally:
        for namespace in ["alone-0", *(f"many-{i}" for i in range(count))]:
            bench.api.request("DELETE", f"/api/v1/namespaces/{namespace}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--plan", choices=("shop", "small"), default="shop")
    args = parser.parse_args()
    info = sandbox.up(nodes=2, name="bench-temporal", registry=True,
                      real_nodes=1 if args.plan == "shop" else 0)
    try:
        with tempfile.TemporaryDirectory(prefix="temporal-overhead-") as tmp:
            bench = Bench(info, Path(tmp), args.plan)
            try:
                figures = {"overhead": overhead(bench, args.rounds),
                           "concurrent": concurrency(bench, args.concurrent)}
            finally:
                bench.close()
    finally:
        sandbox.down(info)
    print(json.dumps({"bench": "temporal_overhead", "plan": args.plan, "rounds": args.rounds,
                      "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
                      "figures": figures}))


if __name__ == "__main__":
    main()
