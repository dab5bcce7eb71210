"""Connections that carry an exec plugin's client certificate, and a new one's once renewed.

TLS client authentication happens when a connection is made, so a renewed certificate needs
new connections: a pooled one would keep presenting the old certificate (and the server
would keep answering 401). Each certificate gets its own pool; superseded pools are closed
with the client, so a watch still streaming on one is not cut off.
"""

from __future__ import annotations

import ssl
import urllib.parse
import urllib.request

import httpx

from phasegate.kube import auth, exec_plugin


class CertRotating(httpx.AsyncBaseTransport):
    def __init__(self, plugin: auth.Plugin, base: ssl.SSLContext | bool, server: str,
                 proxy: str | None) -> None:
        self._plugin = plugin
        self._proxy = proxy or environment_proxy(server)
        self._cert: tuple[bytes, bytes] | None = None
        self._pool = self._new_pool(base)
        self._retired: list[httpx.AsyncHTTPTransport] = []

    def _new_pool(self, tls: ssl.SSLContext | bool) -> httpx.AsyncHTTPTransport:
        return httpx.AsyncHTTPTransport(verify=tls, proxy=self._proxy)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        issued = request.extensions.get(auth.CREDENTIAL)
        if isinstance(issued, exec_plugin.Issued) and issued.cert and issued.key \
                and (issued.cert, issued.key) != self._cert:
            self._retired.append(self._pool)
            self._pool = self._new_pool(self._plugin.tls_for(issued))
            self._cert = (issued.cert, issued.key)
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in (*self._retired, self._pool):
            await pool.aclose()


def environment_proxy(server: str) -> str | None:
    """HTTPS_PROXY / ALL_PROXY unless NO_PROXY names the server, as httpx itself would do
    for a client without a transport of its own."""
    host = urllib.parse.urlsplit(server).hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies_environment()
    scheme = urllib.parse.urlsplit(server).scheme or "https"
    return proxies.get(scheme) or proxies.get("all")
