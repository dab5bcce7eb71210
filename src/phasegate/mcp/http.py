"""Streamable HTTP: the same server on a port, bound to loopback unless told otherwise; a
server reachable from elsewhere answers only requests that carry its bearer token."""

from __future__ import annotations

import hmac
import ipaddress
import sys

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from phasegate import secrets
from phasegate.errors import PlanError

PATH = "/mcp"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse a server reachable from other machines without a token."""
    if not is_loopback(host) and not token:
        raise PlanError(f"--host {host} makes the server reachable from other machines: "
                        "it then needs --token (or PHASEGATE_MCP_TOKEN), which every "
                        "request must send as 'Authorization: Bearer TOKEN'")


class BearerToken:
    """ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"www-authenticate", b'Bearer realm="phasegate"')]})
            await send({"type": "http.response.body",
                        "body": b"phasegate mcp: send Authorization: Bearer TOKEN\n"})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        return hmac.compare_digest(given, self.expected)


async def serve(server: MCPServer, host: str, port: int, token: str | None) -> None:
    import uvicorn

    check_exposure(host, token)
    app: ASGIApp = server.streamable_http_app(streamable_http_path=PATH, host=host)
    if token:
        secrets.register(token)
        app = BearerToken(app, token)
    shown = f"[{host}]" if ":" in host else host
    print(f"phasegate mcp: streamable HTTP on http://{shown}:{port}{PATH}"
          + (" (bearer token required)" if token else ""), file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    await uvicorn.Server(config).serve()
