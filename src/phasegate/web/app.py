"""The dashboard's ASGI application: read-only pages over one evidence store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from phasegate import secrets
from phasegate.errors import StoreError
from phasegate.store.evidence import EvidenceStore
from phasegate.web import access, pages, render, views
from phasegate.web.settings import Settings

STATIC = Path(__file__).parent / "static"


def create(settings: Settings, store: EvidenceStore | None = None) -> FastAPI:
    evidence = store or EvidenceStore(settings.store_url, reader=True)
    app = FastAPI(title="phasegate", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pages.register(app, evidence, settings)

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> Response:
        message = secrets.mask(str(exc))
        code = 404 if message.startswith(("no run ", "run '")) else 503
        return render.page("error.html", status_code=code, message=message)

    @app.exception_handler(views.BadQuery)
    async def _bad_query(_request: Request, exc: views.BadQuery) -> Response:
        return render.page("error.html", status_code=400, message=str(exc))

    if settings.token:  # before any page is reached
        app.middleware("http")(access.guard(
            settings.token, lambda problem: render.text("login.html", problem=problem)))

    @app.middleware("http")  # added last, so outermost: the login answer carries them too
    async def _headers(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in render.HEADERS.items():  # an answer's own (an export's) win
            response.headers.setdefault(name, value)
        return response
    return app
