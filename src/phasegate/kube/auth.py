"""How each request carries the kubeconfig user's credential (httpx auth flows).

A bearer token from a ``tokenFile`` is read again when the file changes (projected service
account tokens are rotated in place); one from an exec plugin is asked again when it expires
or the API answers 401. Every token is registered as a secret where it is read.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path

import httpx

from phasegate import secrets
from phasegate.errors import TargetError
from phasegate.kube import exec_plugin


class Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        secrets.register(token)
        self._header = f"Bearer {token}"

    def header(self) -> str:
        return self._header

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class TokenFile(httpx.Auth):
    def __init__(self, path: Path, user: str, kubeconfig: Path) -> None:
        self.path = path
        self._where = f"user {user!r} (kubeconfig {kubeconfig})"
        self._stamp: tuple[int, int] | None = None
        self._token = ""
        self.token()  # a missing file is an error now, not at the first request

    def token(self) -> str:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                token = self.path.read_text(encoding="utf-8").strip()
                secrets.register(token)
                self._token, self._stamp = token, stamp
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise TargetError(f"the tokenFile {self.path} of {self._where} cannot be read: "
                              f"{reason}") from None
        return self._token

    def header(self) -> str:
        return f"Bearer {self.token()}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header()
        yield request


class Plugin(httpx.Auth):
    """Credentials from an exec plugin, asked for on the first request, never at load: the
    plugin runs in a thread, so a slow one does not stop the event loop. A token signs the
    request; a client certificate travels with it (``CREDENTIAL``) to
    :class:`phasegate.kube.exec_transport.CertRotating`, which connects with it."""

    def __init__(self, plugin: exec_plugin.Plugin,
                 tls_for: Callable[[exec_plugin.Issued], ssl.SSLContext]) -> None:
        self.plugin = plugin
        self.tls_for = tls_for  # the cluster's TLS settings with the plugin's certificate

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        issued = self.plugin.credential()
        response = yield self._sign(request, issued)
        if response.status_code == 401:
            fresh = self.plugin.credential(stale=issued)
            if fresh != issued:
                yield self._sign(request, fresh)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        issued = self.plugin.cached()
        if issued is None:
            issued = await asyncio.to_thread(self.plugin.credential)
        response = yield self._sign(request, issued)
        if response.status_code == 401:
            fresh = await asyncio.to_thread(self.plugin.credential, issued)
            if fresh != issued:
                yield self._sign(request, fresh)

    @staticmethod
    def _sign(request: httpx.Request, issued: exec_plugin.Issued) -> httpx.Request:
        request.extensions[CREDENTIAL] = issued
        if issued.token:
            request.headers["Authorization"] = f"Bearer {issued.token}"
        else:
            request.headers.pop("Authorization", None)
        return request


CREDENTIAL = "phasegate.exec_credential"
