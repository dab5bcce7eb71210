"""Runs exported as traces when PHASEGATE_OTLP_ENDPOINT (or ``phasegate --otlp URL``) names
a collector: after the command has recorded them, whatever its outcome. Off by default;
``phasegate.otel`` (extra ``otel``) is imported only when it is on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.store.evidence import EvidenceStore

ENV = "PHASEGATE_OTLP_ENDPOINT"  # phasegate.otel.export.ENV, named here to import nothing
OtlpOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--otlp", metavar="URL", help="export each run as a trace to this OTLP/HTTP "
                 "collector (env PHASEGATE_OTLP_ENDPOINT; extra otel)"),
]


def export_to(endpoint: str | None) -> None:
    """``--otlp URL``, given before the subcommand: the same as the environment variable."""
    if endpoint:
        os.environ[ENV] = endpoint


@contextmanager
def exported(terminal: Terminal, store: EvidenceStore, *, run: str | None = None
             ) -> Iterator[None]:
    """Export the runs recorded while the block ran (and ``run``, a reference to one it
    continues: ``phasegate resume``)."""
    endpoint = os.environ.get(ENV)
    if not endpoint:
        yield
        return
    since = datetime.now(UTC)
    try:
        yield
    finally:
        _export(terminal, store, endpoint, since, run)


def _export(terminal: Terminal, store: EvidenceStore, endpoint: str, since: datetime,
            run: str | None) -> None:
    ids: list[str] = []
    try:
        from phasegate.otel import export

        ids = [r.id for r in store.find_runs(since=since, oldest_first=True)]
        continued = store.resolve(run) if run is not None else None  # a resumed run
        if continued is not None and continued not in ids:
            ids.insert(0, continued)
        if not ids:
            return
        problem = export.export([store.load(i) for i in ids], endpoint)
    except Exception as exc:  # a trace is never worth a failed run
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        runs = ", ".join(ids) or "(none found)"
        terminal.warn(f"the trace of run {runs} was not exported: {problem}")
