"""``k8s.events``: no Warning events with given reasons, since the phase began or in a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from phasegate import fields
from phasegate.kube import connections
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe


class EventsParams(ProbeParams):
    absent_reasons: list[str] = Field(
        default_factory=list, description="Warning reasons that must not appear, e.g. BackOff"
    )
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    window: fields.Seconds | None = Field(
        None, description="look back this long; default: since the phase began (else 1h)"
    )
    involved: str | None = Field(None, description="only events about objects with this name")

    def describe(self) -> str:
        return "no " + (", ".join(self.absent_reasons) or "Warning events")


async def check_events(params: EventsParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    since = _since(params, ctx)
    fields = "type=Warning" + (f",involvedObject.name={params.involved}" if params.involved else "")
    body = await client.get(f"/api/v1/namespaces/{namespace}/events",
                            params={"fieldSelector": fields}) or {}
    reasons = set(params.absent_reasons)
    found = []
    for event in body.get("items") or []:
        when = _when(event)
        if when is not None and when < since:
            continue
        if not reasons or event.get("reason") in reasons:
            found.append(event)
    expected = "no Warning events" + (f" with reason {', '.join(sorted(reasons))}"
                                      if reasons else "") + f" since {since.isoformat()}"
    if not found:
        return Verdict(True, expected, "none")
    lines = [f"{e.get('reason')} on {e.get('involvedObject', {}).get('kind')} "
             f"{e.get('involvedObject', {}).get('name')}: {e.get('message', '').strip()}"
             for e in found]
    data: dict[str, Any] = {"count": len(found)}
    return Verdict(False, expected, f"{len(found)} event(s): {lines[0]}",
                   detail="\n".join(lines), data=data)


def _since(params: EventsParams, ctx: ProbeContext) -> datetime:
    now = datetime.now(UTC)
    if params.window is not None:
        return now - timedelta(seconds=params.window)
    began = ctx.extras.get("phase_started")
    return began if isinstance(began, datetime) else now - timedelta(hours=1)


def _when(event: dict[str, Any]) -> datetime | None:
    """When the event last happened. An events.k8s.io series keeps its first occurrence in
    eventTime and its latest in series.lastObservedTime; a warning that keeps recurring
    must count as recent, however long ago it began."""
    series = event.get("series") or {}
    candidates = [series.get("lastObservedTime"), event.get("lastTimestamp"),
                  event.get("eventTime")]
    moments = [_parse(text) for text in candidates if text]
    if moments:
        return max(moments)
    created = (event.get("metadata") or {}).get("creationTimestamp")
    return _parse(created) if created else None


def _parse(text: object) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


PROBES = [cluster_probe("k8s.events", EventsParams, check_events,
                    "no Warning events with given reasons (since the phase began, or a window)")]
