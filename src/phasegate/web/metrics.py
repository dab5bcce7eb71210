"""``GET /metrics``: what the evidence store holds, in Prometheus' exposition format.

Computed from the store at each scrape (a custom collector, nothing kept in the process):
the dashboard may serve a store that other processes write, and a restart loses nothing.
Labels are plan names, commands, stages, statuses and domain names only — never a run id,
an object's name or a probe's answer — so a series per run never appears and nothing a
probe observed (where a secret could hide) reaches a label. docs/observability.md lists
each metric."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import exposition
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from starlette.requests import Request
from starlette.responses import Response

from phasegate.domains import queries
from phasegate.domains.records import STATES
from phasegate.store import totals
from phasegate.store.evidence import EvidenceStore
from phasegate.web.domain_views import DomainsSource

# gates answer in milliseconds (a served API) to minutes (a database becoming ready)
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
RUNNING = "running"


def label(status: str) -> str:
    """A status as a label value: "timed out" becomes "timed_out"."""
    return status.replace(" ", "_")


class StoreCollector:
    """A prometheus_client collector over one store (and the domains file, when served)."""

    def __init__(self, store: EvidenceStore, domains: DomainsSource | None) -> None:
        self._store, self._domains = store, domains

    def collect(self) -> Iterator[Metric]:
        yield from self._runs()
        yield from self._gates()
        if self._domains is not None:
            yield from self._domain_states(self._domains)

    def _runs(self) -> Iterator[Metric]:
        finished = CounterMetricFamily(
            "phasegate_runs", "Runs recorded in the evidence store, by plan, command and the "
            "status they ended with.", labels=["plan", "command", "status"])
        running = GaugeMetricFamily(
            "phasegate_runs_in_progress", "Runs the store records as running now.",
            labels=["plan", "command"])
        for count in totals.runs(self._store):
            if count.status == RUNNING:
                running.add_metric([count.plan, count.command], count.count)
            else:
                finished.add_metric([count.plan, count.command, label(count.status)],
                                    count.count)
        yield finished
        yield running

    def _gates(self) -> Iterator[Metric]:
        results = CounterMetricFamily(
            "phasegate_gate_results", "Finished gates (reality check, tracers', phases', "
            "validation), by plan, stage and outcome.", labels=["plan", "stage", "outcome"])
        durations: dict[tuple[str, str], tuple[list[int], int, float]] = {}
        for group in totals.gates(self._store, BUCKETS):
            results.add_metric([group.plan, group.stage, label(group.status)], group.count)
            within, count, seconds = durations.get((group.plan, group.stage),
                                                   ([0] * len(BUCKETS), 0, 0.0))
            durations[(group.plan, group.stage)] = (
                [a + b for a, b in zip(within, group.within, strict=True)],
                count + group.count, seconds + group.seconds)
        histogram = HistogramMetricFamily(
            "phasegate_gate_duration_seconds", "How long finished gates took, from their "
            "first attempt to their verdict, by plan and stage.", labels=["plan", "stage"])
        for (plan, stage), (within, count, seconds) in sorted(durations.items()):
            buckets = [(f"{bound:g}", float(n)) for bound, n in zip(BUCKETS, within,
                                                                    strict=True)]
            histogram.add_metric([plan, stage], [*buckets, ("+Inf", float(count))], seconds)
        yield results
        yield histogram

    def _domain_states(self, source: DomainsSource) -> Iterator[Metric]:
        names = list(source.get().domains)
        current = queries.current(self._store, names)
        states = GaugeMetricFamily(
            "phasegate_domain_state", "1 for each domain's current state as `phasegate "
            "health` last recorded it (unknown when never evaluated), 0 for the others.",
            labels=["domain", "state"])
        since = GaugeMetricFamily(
            "phasegate_domain_state_since_timestamp_seconds", "When each domain's current "
            "state began, as Unix time.", labels=["domain"])
        for name in names:
            found = current.get(name)
            now = found.state if found is not None else "unknown"
            for state in STATES:
                states.add_metric([name, state], 1.0 if state == now else 0.0)
            if found is not None:
                since.add_metric([name], found.at.timestamp())
        yield states
        yield since


def register(app: FastAPI, store: EvidenceStore, domains: DomainsSource | None) -> None:
    collector = StoreCollector(store, domains)

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        # Prometheus asks for OpenMetrics when it can; anything else gets the text format
        encode, media_type = exposition.choose_encoder(request.headers.get("accept", ""))
        return Response(encode(collector), media_type=media_type)
