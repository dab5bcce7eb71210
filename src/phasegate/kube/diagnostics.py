"""Why is it not ready? Evidence gathered when a Kubernetes gate fails or times out:
the object's status and conditions, recent events for it and its pods, pod phases and
container states, and the last log lines of failing containers."""

from __future__ import annotations

import json
from typing import Any

from phasegate import probe_input
from phasegate.errors import PhasegateError
from phasegate.kube import connections, objects, revisions
from phasegate.kube.client import Json, KubeClient

LOG_LINES = 20
MAX_PODS = 5


async def for_object(params: probe_input.ProbeParams, ctx: probe_input.ProbeContext) -> str:
    """Diagnostics for a probe naming one object (kind/name/namespace)."""
    return await _for(str(getattr(params, "kind", "")), str(getattr(params, "name", "")),
                      getattr(params, "namespace", None), getattr(params, "api_version", None),
                      ctx)


async def for_workload(workload: str, namespace: str | None, ctx: probe_input.ProbeContext) -> str:
    """Diagnostics for ``Kind/name`` (the ``workload`` of ``k8s.pods``)."""
    kind, _, name = workload.partition("/")
    return await _for(kind, name, namespace, revisions.KINDS.get(kind), ctx)


async def _for(kind: str, name: str, namespace: str | None, api_version: str | None,
               ctx: probe_input.ProbeContext) -> str:
    try:
        client = connections.client_for(ctx)
        resource = await client.find_kind(kind, api_version)
        namespace = connections.namespace_of(ctx, namespace)
        namespace_or_none = namespace if resource.namespaced else None
        obj = await client.get(resource.path(namespace_or_none, name))
        lines: list[str] = []
        if obj is None:
            lines.append(f"{kind} {name}: not found")
        else:
            lines += _object_section(obj)
            lines += await _events(client, namespace_or_none, obj)
            selector = _selector(obj)
            if selector and namespace_or_none:
                roles = await _revision_roles(client, namespace_or_none, {"kind": kind, **obj})
                lines += await pods_section(client, namespace_or_none, selector, roles)
        return "\n".join(lines)
    except PhasegateError as exc:
        return f"diagnostics unavailable: {exc}"


async def _revision_roles(client: KubeClient, namespace: str, workload: Json) -> dict[str, str]:
    """Pod name → "current revision" / "old revision" / "terminating", for workloads."""
    if workload.get("kind") not in revisions.KINDS:
        return {}
    revision = await revisions.current(client, namespace, workload)
    return {pod["metadata"]["name"]: role for role, pods in (
        ("current revision", revision.current), ("old revision", revision.old),
        ("terminating", revision.terminating)) for pod in pods}


async def for_selector(namespace: str, selector: str, ctx: probe_input.ProbeContext) -> str:
    try:
        client = connections.client_for(ctx)
        return "\n".join(await pods_section(client, namespace, selector))
    except PhasegateError as exc:
        return f"diagnostics unavailable: {exc}"


def _object_section(obj: Json) -> list[str]:
    status = obj.get("status") or {}
    meta = obj.get("metadata", {})
    lines = [f"== {objects.ref(obj)} (generation {meta.get('generation')})"]
    lines.append("conditions: " + objects.describe_conditions(obj))
    for entry in objects.conditions(obj):
        if entry.get("message"):
            lines.append(f"  {entry.get('type')}: {entry.get('message')}")
    rest = {k: v for k, v in status.items() if k != "conditions"}
    if rest:
        lines.append("status: " + json.dumps(rest, sort_keys=True)[:1500])
    return lines


def _selector(obj: Json) -> str | None:
    match = (obj.get("spec") or {}).get("selector")
    if isinstance(match, dict) and isinstance(match.get("matchLabels"), dict):
        return ",".join(f"{k}={v}" for k, v in sorted(match["matchLabels"].items()))
    return None


async def _events(client: KubeClient, namespace: str | None, obj: Json) -> list[str]:
    meta = obj.get("metadata", {})
    path = f"/api/v1/namespaces/{namespace}/events" if namespace else "/api/v1/events"
    fields = f"involvedObject.name={meta.get('name')},involvedObject.kind={obj.get('kind')}"
    body = await client.get(path, params={"fieldSelector": fields}) or {}
    return _format_events(f"events for {objects.ref(obj)}", body.get("items") or [])


def _format_events(title: str, events: list[Json]) -> list[str]:
    if not events:
        return [f"{title}: none"]
    ordered = sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    lines = [f"{title}:"]
    for event in ordered[-10:]:
        when = event.get("lastTimestamp") or event.get("eventTime") or ""
        count = event.get("count") or 1
        lines.append(f"  {when} {event.get('type')} {event.get('reason')} (x{count}): "
                     f"{event.get('message', '').strip()}")
    return lines


async def pods_section(client: KubeClient, namespace: str, selector: str,
                       roles: dict[str, str] | None = None) -> list[str]:
    body = await client.get(f"/api/v1/namespaces/{namespace}/pods",
                            params={"labelSelector": selector}) or {}
    pods: list[Json] = body.get("items") or []
    roles = roles or {}
    order = {"current revision": 0, "": 1, "old revision": 2, "terminating": 3}
    pods.sort(key=lambda p: order.get(roles.get(p["metadata"]["name"], ""), 1))
    lines = [f"== pods matching {selector}: {len(pods)}"]
    for pod in pods[:MAX_PODS]:
        lines += await _pod(client, namespace, pod, roles.get(pod["metadata"]["name"], ""))
    return lines


async def _pod(client: KubeClient, namespace: str, pod: Json, role: str = "") -> list[str]:
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    lines = [f"pod {name}{f' ({role})' if role else ''}: phase {status.get('phase')}, "
             f"{objects.describe_conditions(pod)}"]
    failing: list[tuple[str, bool]] = []  # (container, its previous instance's log)
    for container in status.get("containerStatuses") or []:
        state: dict[str, Any] = container.get("state") or {}
        (kind, detail), = state.items() if len(state) == 1 else [("unknown", {})]
        reason = detail.get("reason", "")
        text = f"  container {container.get('name')}: {kind}"
        if reason:
            text += f" {reason}"
        if detail.get("message"):
            text += f": {detail['message']}"
        text += f" (restarts {container.get('restartCount', 0)}, ready {container.get('ready')})"
        last = (container.get("lastState") or {}).get("terminated") or {}
        if last:
            text += (f"; last terminated: {last.get('reason') or 'exited'}"
                     f" (exit code {last.get('exitCode')})")
        lines.append(text)
        if kind == "running" and last:
            # Crash-looping, caught between two restarts: the log that explains it is the
            # instance that exited, not the one just started (ready or not).
            failing.append((str(container.get("name")), True))
        elif kind != "running" or not container.get("ready"):
            failing.append((str(container.get("name")), False))
    fields = f"involvedObject.name={name},involvedObject.kind=Pod"
    events = await client.get(f"/api/v1/namespaces/{namespace}/events",
                              params={"fieldSelector": fields}) or {}
    lines += ["  " + line for line in _format_events(f"events for pod {name}",
                                                       events.get("items") or [])]
    for container, previous in failing:
        lines += await _logs(client, namespace, name, container, previous)
    return lines


async def _logs(client: KubeClient, namespace: str, pod: str, container: str,
                previous: bool = False) -> list[str]:
    params = {"container": container, "tailLines": str(LOG_LINES)}
    if previous:
        params["previous"] = "true"
    response = await client.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", params=params, timeout=5,
    )
    which = f"{container} (the instance that exited)" if previous else container
    if response.status_code >= 400:
        return [f"  logs of {which}: unavailable ({response.status_code})"]
    text = response.text.strip() or "(empty)"
    return [f"  last log lines of {which}:"] + [f"    {line}" for line in text.splitlines()]
