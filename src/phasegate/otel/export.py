"""Sending runs' traces to an OTLP/HTTP collector with the OpenTelemetry SDK.

Never able to break a run: it is called after the run is recorded, every failure (a
collector that does not answer, refuses, or an SDK that is not installed) comes back as
one sentence for a warning, and the SDK's own logging is kept quiet meanwhile. The spans
are collected in memory and exported in one request, so that the answer is known.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from phasegate import __version__, secrets
from phasegate.otel import spans
from phasegate.store.records import RunBundle

ENV = "PHASEGATE_OTLP_ENDPOINT"
TIMEOUT = 5.0  # seconds for the whole export: a run never waits on a collector for long


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's traces path under a collector's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT
    is read), unless the URL already names it."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def export(bundles: Sequence[RunBundle], endpoint: str, timeout: float = TIMEOUT) -> str | None:
    """Export each run as a trace; None when the collector took them, else why not."""
    try:
        from opentelemetry.context import Context
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    except ImportError:
        return "the OpenTelemetry SDK is not installed: pip install 'phasegate[otel]'"

    class RunTraceIds(RandomIdGenerator):
        trace = 0

        def generate_trace_id(self) -> int:
            return self.trace

    ids = RunTraceIds()
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "phasegate", "service.version": __version__}),
        id_generator=ids)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("phasegate", __version__)
    for bundle in bundles:
        ids.trace = spans.trace_id(bundle.run.id)
        _emit(tracer, spans.of_run(bundle), Context())
    url = traces_url(endpoint)
    exporter = OTLPSpanExporter(endpoint=url, timeout=timeout)
    try:
        with _sdk_quiet():
            result = exporter.export(memory.get_finished_spans())
    except Exception as exc:  # whatever the SDK raises, the run stays as it was
        return f"{url}: {type(exc).__name__}: {exc}"
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
        provider.shutdown()
    if result != SpanExportResult.SUCCESS:
        return f"{url} did not take them (unreachable, or it refused them)"
    return None


def _emit(tracer: Any, span: spans.Span, parent: Any) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    made = tracer.start_span(span.name, context=parent, start_time=_ns(span.start),
                             attributes=_masked(span.attributes))
    made.set_status(Status(StatusCode.OK) if span.ok else
                    Status(StatusCode.ERROR, secrets.mask(span.description)[:1000]))
    inside = trace.set_span_in_context(made, parent)
    for child in span.children:
        _emit(tracer, child, inside)
    made.end(end_time=_ns(span.end))


def _ns(moment: datetime) -> int:
    if moment.tzinfo is None:  # the store's times are UTC
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _masked(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: secrets.mask(value) if isinstance(value, str) else value
            for key, value in attributes.items()}


@contextmanager
def _sdk_quiet() -> Iterator[None]:
    """The SDK logs each failed attempt; the caller says it once, as a warning."""
    logger = logging.getLogger("opentelemetry")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)
