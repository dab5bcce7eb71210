"""The http probe over real TLS: its CA file trusted (the context built once and reused),
the default CAs refusing a private one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from phasegate.engine import attempt
from phasegate.plan import probe_call
from phasegate.probes import http_clients, http_network
from phasegate.probes.base import ProbeContext
from tests.fixtures import pki


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    authority = pki.authority(tmp_path / "ca")
    issued = authority.issue(tmp_path, "server", ["127.0.0.1"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = issued.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), authority.pem
    server.shutdown()
    server.server_close()


def test_the_ca_file_is_trusted_on_every_request_and_the_default_cas_refuse(
        https: tuple[int, Path], tmp_path: Path) -> None:
    port, ca = https
    ctx = ProbeContext(base_dir=tmp_path)
    trusted = probe_call.build({"http": {"url": f"https://127.0.0.1:{port}/", "ca": str(ca)}})
    default = probe_call.build({"http": {"url": f"https://127.0.0.1:{port}/"}})

    async def ask() -> list[bool]:
        seen = [await attempt.run(call, ctx) for call in (trusted, trusted, default)]
        assert "certificate" in seen[2].observed.lower(), seen[2].observed
        return [o.passed for o in seen]

    assert asyncio.run(ask()) == [True, True, False]


def test_kept_clients_speak_tls_on_asyncio_connections_as_one_off_clients_do(
        https: tuple[int, Path], tmp_path: Path) -> None:
    """Within ``pooled`` (a health evaluation, a ``--watch``) connections are asyncio's own,
    not anyio's: the answers are the same, a refused certificate named the same way."""
    port, ca = https
    ctx = ProbeContext(base_dir=tmp_path)
    trusted = probe_call.build({"http": {"url": f"https://127.0.0.1:{port}/", "ca": str(ca)}})
    default = probe_call.build({"http": {"url": f"https://127.0.0.1:{port}/"}})

    async def ask() -> tuple[list[bool], str, str]:
        alone = await attempt.run(default, ctx)
        async with http_clients.pooled() as pool:
            seen = [await attempt.run(call, ctx) for call in (trusted, trusted, default)]
            clients = list(pool._clients.values())
        backends = {type(client._transport._pool._network_backend)  # type: ignore[attr-defined]
                    for client, _ in clients}
        assert backends == {http_network.AsyncioBackend}
        return [o.passed for o in seen], seen[2].observed, alone.observed

    passed, refused, refused_alone = asyncio.run(ask())
    assert passed == [True, True, False]
    assert refused.startswith("TLS failure: ") and "certificate verify failed" in refused
    assert refused_alone.startswith("TLS failure: ") and "certificate verify failed" in \
        refused_alone
