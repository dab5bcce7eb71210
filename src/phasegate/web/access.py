"""The bearer token: checked on every request when the dashboard has one.

Browsers cannot add an ``Authorization`` header to a link they follow, so the login form
(POST /login, the token in the body, never in a URL that access logs keep) sets an
HttpOnly cookie holding it; a script or ``curl`` sends ``Authorization: Bearer TOKEN``.
Both are compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

COOKIE = "phasegate_token"
LOGIN = "/login"

Next = Callable[[Request], Awaitable[Response]]


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def presented(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(COOKIE, "")


def guard(token: str, login_page: Callable[[str], str]) -> Callable[[Request, Next],
                                                                     Awaitable[Response]]:
    """Middleware: a request without the token gets 401 and the login form, nothing else."""

    async def check(request: Request, call_next: Next) -> Response:
        if request.url.path == LOGIN and request.method == "POST":
            return await _login(request, token, login_page)
        given = presented(request)
        if given and _same(given, token):
            return await call_next(request)
        return HTMLResponse(login_page(""), status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="phasegate"'})

    return check


async def _login(request: Request, token: str, login_page: Callable[[str], str]) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (form.get("token") or [""])[0]
    if not given or not _same(given, token):
        return HTMLResponse(login_page("that token is not this dashboard's"), status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
    return response
