"""The httpx clients ``http`` probes ask through: one per TLS setting, kept for as long as
a caller that asks many times (a health evaluation, a ``--watch``) holds :func:`pooled`
open; outside it, one client per ask, closed after it.

Building a client costs about 3 ms of CPU (two thirds of it reading proxy settings from the
environment), a new connection per ask more: at 50 asks a second that was most of a
``--watch`` loop's work. A kept client keeps connections alive between asks; that changes
no answer: before reusing an idle connection httpcore checks that the server has not
closed it, so a server that went down is refused (or times out) at the next ask, as with a
new connection. No cookie passes from one ask to the next: a kept client's cookies keep none,
and an ask that follows redirects (whose chain may need the cookies it is given on the way)
has a client of its own. A kept client's connections are asyncio's own
(:mod:`http_network`), not anyio's.
"""

from __future__ import annotations

import contextlib
import contextvars
import ssl
from collections.abc import AsyncIterator
from http import cookiejar
from typing import Any

import httpcore
import httpx

from phasegate.probes import http_network

# a pool's connections are not limited: the callers limit how many asks run at once
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None)


class _NoCookies(cookiejar.CookieJar):
    """A jar that keeps nothing, should anything reach past ``_Discarding``."""

    def set_cookie(self, cookie: cookiejar.Cookie) -> None:
        pass

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass


class _Discarding(httpx.Cookies):
    """Cookies that keep nothing: a shared client must not carry one ask's cookies into
    another's. Discarded before httpx builds the urllib request and response a cookie jar
    reads (a twelfth of a kept client's CPU per ask, for cookies then thrown away)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class _Kept(httpx.AsyncClient):
    """A pool's client: its cookies are always the empty, discarding ones."""

    _none = _Discarding(_NoCookies())

    @property
    def cookies(self) -> httpx.Cookies:
        return self._none

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        pass  # httpx.AsyncClient.__init__ sets the ones it is given: it is given none

    # httpx takes no network backend, and a transport of our own would turn off the proxies
    # httpx reads from the environment: its own transports (direct and proxied) are kept,
    # their connection pools given asyncio's backend before they make a connection
    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return on_asyncio(super()._init_transport(*args, **kwargs))

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return on_asyncio(super()._init_proxy_transport(*args, **kwargs))


_ASYNCIO = http_network.AsyncioBackend()


def on_asyncio(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    """``transport`` with its pool's connections made by asyncio (any other left as is)."""
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = _ASYNCIO
    return transport


class Pool:
    """Clients by TLS setting: the verify context (its identity) or no verification."""

    def __init__(self) -> None:
        self._clients: dict[int | bool, tuple[httpx.AsyncClient, ssl.SSLContext | bool]] = {}

    def client(self, verify: ssl.SSLContext | bool) -> httpx.AsyncClient:
        key = verify if isinstance(verify, bool) else id(verify)
        found = self._clients.get(key)
        if found is None:
            # the context is kept with its client: its id() stays its own while both live
            found = (_Kept(verify=verify, limits=_LIMITS), verify)
            self._clients[key] = found
        return found[0]

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client, _verify in clients.values():
            await client.aclose()


_POOL: contextvars.ContextVar[Pool | None] = contextvars.ContextVar("http_pool", default=None)


@contextlib.asynccontextmanager
async def pooled() -> AsyncIterator[Pool]:
    """Within it (and in the tasks it starts), ``http`` probes share clients; closed at its
    end. Nested, the outer pool is used."""
    outer = _POOL.get()
    if outer is not None:
        yield outer
        return
    pool = Pool()
    token = _POOL.set(pool)
    try:
        yield pool
    finally:
        _POOL.reset(token)
        await pool.close()


@contextlib.asynccontextmanager
async def client_for(verify: ssl.SSLContext | bool,
                     follow_redirects: bool) -> AsyncIterator[httpx.AsyncClient]:
    """The pool's client while one is open, else a client of its own for one ask."""
    pool = _POOL.get()
    if pool is not None and not follow_redirects:
        yield pool.client(verify)
        return
    async with httpx.AsyncClient(verify=verify) as own:
        yield own
