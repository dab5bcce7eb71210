"""The routes: one per page, and the fragments live pages poll."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from phasegate.reports import clock
from phasegate.store.evidence import EvidenceStore
from phasegate.web import cached, render, views
from phasegate.web.settings import Settings

EXPORTS = {"md": "text/markdown", "json": "application/json", "junit": "application/xml",
           "html": "text/html"}
DONE = {"X-Live-Done": "1"}  # a fragment that will not change again: stop asking
PATTERNS_TTL = 60.0  # mining every failure of 30 days costs seconds on a big store


def register(app: FastAPI, store: EvidenceStore, settings: Settings) -> None:
    every = settings.refresh_seconds

    @app.get("/", response_class=HTMLResponse)
    def overview() -> Response:
        start = "/domains" if settings.domains_file is not None else "/runs"
        return RedirectResponse(start, status_code=307)

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request) -> Response:
        filters = views.RunFilters.of(dict(request.query_params))
        return render.page("runs.html", nav="runs", every=every,
                           **views.runs(store, filters, clock.now()))

    @app.get("/fragments/runs", response_class=HTMLResponse)
    def runs_fragment(request: Request) -> Response:
        filters = views.RunFilters.of(dict(request.query_params))
        return render.page("_runs_table.html", **views.runs(store, filters, clock.now()))

    @app.get("/runs/{ref}", response_class=HTMLResponse)
    def run(ref: str) -> Response:
        return render.page("run.html", nav="runs", every=every,
                           **views.run(store, ref, clock.now()))

    @app.get("/fragments/runs/{ref}/timeline", response_class=HTMLResponse)
    def timeline_fragment(ref: str) -> Response:
        shown = views.run(store, ref, clock.now())
        return render.page("_timeline.html", headers=None if shown["timeline"]["running"]
                           else DONE, **shown)

    @app.get("/runs/{ref}/evidence", response_class=HTMLResponse)
    def evidence(ref: str) -> Response:
        return render.page("document.html", nav="runs", tab="evidence",
                           title="Evidence", **views.evidence(store, ref, clock.now()))

    @app.get("/runs/{ref}/retro", response_class=HTMLResponse)
    def retrospective(ref: str) -> Response:
        return render.page("document.html", nav="runs", tab="retro",
                           title="Retrospective", **views.retrospective(store, ref, clock.now()))

    @app.get("/runs/{ref}/export.{fmt}")
    def export(ref: str, fmt: str) -> Response:
        if fmt not in EXPORTS:
            raise views.BadQuery(f"export: no format {fmt!r}; expected one of "
                                 f"{', '.join(EXPORTS)}")
        # the HTML report is one self-contained page: its own inline style, no scripts
        own = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
        return PlainTextResponse(views.export(store, ref, fmt), media_type=EXPORTS[fmt],
                                 headers=own)

    @app.get("/tasks", response_class=HTMLResponse)
    def tasks() -> Response:
        return render.page("tasks.html", nav="tasks", **views.tasks(store, settings.tasks_dir))

    mined = cached.Refreshed(lambda: views.patterns(store, clock.now()), PATTERNS_TTL)
    mined.warm()

    @app.get("/patterns", response_class=HTMLResponse)
    def patterns() -> Response:
        found, age = mined.get()
        return render.page("patterns.html", nav="patterns", age=clock.span(age), **found)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "store": store.describe()}
