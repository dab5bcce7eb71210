"""The dashboard's ASGI application: read-only pages over one evidence store."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from phasegate import secrets
from phasegate.errors import PhasegateError, StoreError
from phasegate.store.evidence import EvidenceStore
from phasegate.web import access, domain_pages, domain_views, metrics, pages, render, views
from phasegate.web.settings import Settings

STATIC = Path(__file__).parent / "static"


def create(settings: Settings, store: EvidenceStore | None = None) -> FastAPI:
    evidence = store or EvidenceStore(settings.store_url, reader=True)
    app = FastAPI(title="phasegate", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pages.register(app, evidence, settings)
    render.environment().globals["domains_enabled"] = settings.domains_file is not None
    domains = None
    if settings.domains_file is not None:
        domains = domain_views.DomainsSource(settings.domains_file)
        domain_pages.register(app, evidence, settings, domains)
    metrics.register(app, evidence, domains)

    @app.exception_handler(PhasegateError)
    async def _cannot(_request: Request, exc: PhasegateError) -> Response:
        # the store unreachable, a domains file edited into something malformed: the one
        # paragraph the CLI would print, on the page
        message = secrets.mask(str(exc))
        unknown = isinstance(exc, StoreError) and message.startswith(("no run ", "run '"))
        return render.page("error.html", status_code=404 if unknown else 503, message=message)

    @app.exception_handler(views.NotFound)
    async def _not_found(_request: Request, exc: views.NotFound) -> Response:
        return render.page("error.html", status_code=404, message=str(exc))

    @app.exception_handler(views.BadQuery)
    async def _bad_query(_request: Request, exc: views.BadQuery) -> Response:
        return render.page("error.html", status_code=400, message=str(exc))

    if settings.token:  # before any page is reached
        app.middleware("http")(access.guard(
            settings.token, lambda problem: render.text("login.html", problem=problem)))

    @app.middleware("http")  # added last, so outermost: the login answer carries them too
    async def _headers(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # the time spent here, for the browser's devtools and bench/dashboard.py
        spent = 1000 * (time.perf_counter() - started)
        response.headers["Server-Timing"] = f"app;dur={spent:.1f}"
        for name, value in render.HEADERS.items():  # an answer's own (an export's) win
            response.headers.setdefault(name, value)
        return response
    return app
