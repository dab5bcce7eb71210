"""The domain routes: the overview (live) and one domain's page."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response

from phasegate.reports import clock
from phasegate.store.evidence import EvidenceStore
from phasegate.web import domain_views, render
from phasegate.web.settings import Settings


def register(app: FastAPI, store: EvidenceStore, settings: Settings,
             source: domain_views.DomainsSource) -> None:
    source.get()  # parsed now, not by the first visitor
    every = settings.refresh_seconds

    @app.get("/domains", response_class=HTMLResponse)
    def overview() -> Response:
        return render.page("domains.html", nav="domains", every=every,
                           **domain_views.overview(store, source, clock.now()))

    @app.get("/fragments/domains", response_class=HTMLResponse)
    def overview_fragment() -> Response:
        return render.page("_domains_grid.html",
                           **domain_views.overview(store, source, clock.now()))

    @app.get("/domains/{name}", response_class=HTMLResponse)
    def domain(name: str) -> Response:
        return render.page("domain.html", nav="domains", **domain_views.domain(
            store, source, name, clock.now(), settings.tasks_dir))
