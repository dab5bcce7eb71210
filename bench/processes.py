"""What the benches share: one command timed as its own process, throw-away namespaces, the
harness's tools, the public material, percentiles, and the waiters of the latency benches."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phasegate.engine import gate
from phasegate.kube import connections
from phasegate.kube.connections import KubeTarget
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from phasegate.sandbox.api import Api, wait_for

ROOT = Path(__file__).resolve().parent.parent


def measured(cmd: list[str], log: Path, env: dict[str, str] | None = None
             ) -> dict[str, float]:
    """Run ``cmd`` to its end (output appended to ``log``): seconds, peak RSS (MB) and CPU
    seconds (user + system, which a busy machine inflates far less than the wall time) of
    that process alone. A failure ends the bench with the log's tail."""
    with log.open("ab") as out:
        start = time.monotonic()
        process = subprocess.Popen(cmd, stdout=out, stderr=out, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{cmd[0]} {cmd[1:4]} exited {code}:\n"
                         + log.read_text(errors="replace")[-3000:])
    return {"s": seconds, "rss_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime}


def create_namespace(api: Api, name: str) -> None:
    api.create("/api/v1/namespaces", {"metadata": {"name": name}})


def drop_namespace(api: Api, name: str) -> None:
    """Delete a namespace and wait until it is gone (untimed), so pods never pile up."""
    api.request("DELETE", f"/api/v1/namespaces/{name}")
    wait_for(f"namespace {name} gone", lambda: api.get(f"/api/v1/namespaces/{name}") is None,
             180, interval=0.5)


def harness_tool(script: str, env_name: str | None = None) -> str:
    """The path of a tool the harness builds (``harness/SCRIPT``), or ``$ENV_NAME`` if set."""
    given = os.environ.get(env_name) if env_name else None
    if given:
        return given
    built = subprocess.run([str(ROOT / "harness" / script)], check=True,
                           capture_output=True, text=True)
    return built.stdout.strip().splitlines()[-1]


def public(path: str) -> Path:
    """``../shared/public/PATH`` beside the checkout (or, in a git worktree, beside the
    main checkout), as tests/integration/public_material.py finds it."""
    if (ROOT / "../shared/public").is_dir():
        return (ROOT / "../shared/public" / path).resolve()
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return (Path(common.strip()).parent / "../shared/public" / path).resolve()


def percentile(values: list[float], q: float) -> float:
    """The value at rank ``q`` (0..1) of ``values``, nearest rank, no interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def poller(api: Api, path: str, holds: Callable[[Any], bool], interval: float,
           done: dict[str, float], key: str) -> None:
    """Ask ``path`` every ``interval`` until ``holds(object)``; note when in ``done[key]``."""
    time.sleep(random.uniform(0, interval))  # a poller's phase is arbitrary
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if holds(api.get(path)):
            done[key] = time.monotonic()
            return
        time.sleep(interval)


def gate_waiter(kubeconfig: str, context: str, namespace: str, spec: dict[str, Any]) -> None:
    """The body of a waiter process: phasegate's gate on one probe. Prints "waiting" once
    the gate waits, then the (system-wide) monotonic clock at the moment it passed."""
    ctx = ProbeContext(extras={"kube": KubeTarget(kubeconfig, context, namespace)})
    call = probe_call.build(spec)
    told: list[bool] = []

    def first(wait: object) -> None:  # on_wait: told in the loop, as the gate starts waiting
        if not told:
            told.append(True)
            print("waiting", flush=True)

    async def run() -> None:
        try:
            result = await gate.evaluate([call], ctx, timeout=30, on_wait=first)
            if result.passed:
                print(time.monotonic(), flush=True)
        finally:
            await connections.close_all()

    asyncio.run(run())
