"""Event-driven waiting for Kubernetes probes: watch what the last observation listed.

A probe's check lists what it looked at and records, in its observation's data, each
collection with the resourceVersion of that list (``data["watch"]``). The gate then calls
:func:`wait`, which watches all of them from those versions and returns at the first
event. A watch that expires (410 Gone) or drops returns without an event: the probe lists
again, which is the re-list the protocol asks for. A watch the server refuses (403, 405) or
a listing with no resourceVersion raises WatchRefused: the gate polls instead.

The newest event of a one-object watch is kept in the check's gate memo, so the next
attempt reads it instead of asking again; the memo dies with the gate.
"""

from __future__ import annotations

import asyncio
from typing import Any

from phasegate import probe_input
from phasegate.errors import WatchRefused
from phasegate.kube import connections
from phasegate.kube.client import Json, KubeClient

WatchSpec = dict[str, Any]  # {"path": ..., "rv": ..., "params": {...}}


def spec(path: str, resource_version: str, params: dict[str, Any] | None = None) -> WatchSpec:
    return {"path": path, "rv": resource_version, "params": params or {}}


async def wait(params: probe_input.ProbeParams, ctx: probe_input.ProbeContext,
               data: dict[str, Any], budget: float) -> bool:
    listed: list[WatchSpec] = data.get("watch") or []
    specs = [s for s in listed if s.get("rv")]
    if listed and not specs:
        raise WatchRefused("cannot be watched: its listing carries no resourceVersion")
    if not specs:  # the attempt listed nothing (it could not ask): ask again in a second
        await asyncio.sleep(min(budget, 1.0))
        return True
    client = connections.client_for(ctx)
    memo = ctx.memo()
    tasks = [asyncio.ensure_future(_first_event(client, s, budget, memo)) for s in specs]
    try:
        done, _ = await asyncio.wait(tasks, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            refused = task.exception()
            if isinstance(refused, WatchRefused):
                raise refused
        return any(task.result() for task in done if task.exception() is None)
    finally:
        for task in tasks:
            # closing a streaming watch takes a few ms: let it finish in the background
            # instead of making the gate wait for it before asking again
            task.cancel()
            _closing.add(task)
            task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[bool]] = set()


async def _first_event(
    client: KubeClient, watch: WatchSpec, budget: float, memo: dict[str, Any] | None
) -> bool:
    async for event in client.watch(watch["path"], watch["rv"], budget, watch["params"]):
        if memo is not None and one_object(watch["params"]):
            memo[_key(watch["path"], watch["params"])] = event
        return True
    return False


def recall(memo: dict[str, Any] | None, path: str, params: dict[str, Any]) -> Json | None:
    """The event a watch of this one-object listing kept (once): the state it carries is
    the state at its resourceVersion, which is what a fresh list would return (or older)."""
    if memo is None or not one_object(params):
        return None
    found = memo.pop(_key(path, params), None)
    return found if isinstance(found, dict) else None


def one_object(params: dict[str, Any]) -> bool:
    return str(params.get("fieldSelector", "")).startswith("metadata.name=")


def _key(path: str, params: dict[str, Any]) -> str:
    return "watch:" + path + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
