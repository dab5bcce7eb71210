"""Event-driven waiting for Kubernetes probes: watch what the last observation listed.

A probe's check lists what it looked at and records, in its observation's data, each
collection with the resourceVersion of that list (``data["watch"]``). The gate then calls
:func:`wait`, which watches all of them from those versions and returns at the first
event. A watch that expires (410 Gone) or drops returns without an event: the probe lists
again, which is the re-list the protocol asks for.
"""

from __future__ import annotations

import asyncio
from typing import Any

from phasegate.kube import connections
from phasegate.kube.client import KubeClient
from phasegate.probes.base import ProbeContext, ProbeParams

WatchSpec = dict[str, Any]  # {"path": ..., "rv": ..., "params": {...}}


def spec(path: str, resource_version: str, params: dict[str, Any] | None = None) -> WatchSpec:
    return {"path": path, "rv": resource_version, "params": params or {}}


async def wait(params: ProbeParams, ctx: ProbeContext, data: dict[str, Any], budget: float) -> bool:
    specs: list[WatchSpec] = [s for s in data.get("watch", []) if s.get("rv")]
    if not specs:
        await asyncio.sleep(min(budget, 1.0))  # nothing to watch: poll once a second
        return True
    client = connections.client_for(ctx)
    tasks = [asyncio.ensure_future(_first_event(client, s, budget)) for s in specs]
    try:
        done, _ = await asyncio.wait(tasks, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
        return any(task.result() for task in done if task.exception() is None)
    finally:
        for task in tasks:
            # closing a streaming watch takes a few ms: let it finish in the background
            # instead of making the gate wait for it before asking again
            task.cancel()
            _closing.add(task)
            task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[bool]] = set()


async def _first_event(client: KubeClient, watch: WatchSpec, budget: float) -> bool:
    async for event in client.watch(watch["path"], watch["rv"], budget, watch["params"]):
        if str(watch["params"].get("fieldSelector", "")).startswith("metadata.name="):
            client.remember(watch["path"], watch["params"], event)
        return True
    return False
