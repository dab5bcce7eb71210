"""The http probe's kept clients (``probes.http_clients.pooled``, what a health evaluation
and a ``--watch`` ask through): against a real keep-alive HTTP server in its own process,
a kept connection is reused while the server lives, a server that went down is seen down
at the very next ask, one that came back is seen up again, and no cookie passes from one
ask to another."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from phasegate.observation import Verdict
from phasegate.probes import http, http_clients
from phasegate.probes.base import ProbeContext

SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    # keep-alive: a kept client reuses its connection; HTTP/1.0 closes each one
    protocol_version = sys.argv[2] if len(sys.argv) > 2 else "HTTP/1.1"
    def do_GET(self):
        if self.path == "/set":
            body = b"set"
        else:  # the client's port (which connection) and the cookies it sent
            body = f"{self.client_address[1]} {self.headers.get('Cookie')}".encode()
        self.send_response(200)
        if self.path == "/set":
            self.send_header("Set-Cookie", "session=abc; Path=/")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _start(port: int = 0, protocol: str = "HTTP/1.1") -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), protocol],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def _stop(process: subprocess.Popen[str]) -> None:
    process.kill()  # as a crash: no goodbye on its kept connections but the kernel's
    process.wait(timeout=10)


async def _ask(port: int, path: str, tmp_path: Path) -> Verdict:
    params = http.HttpParams(url=f"http://127.0.0.1:{port}{path}", timeout=5)
    return await http.check(params, ProbeContext(base_dir=tmp_path))


def test_a_kept_connection_never_hides_a_server_that_went_down(tmp_path: Path) -> None:
    async def scenario() -> list[Verdict]:
        process, port = _start()
        try:
            async with http_clients.pooled():
                seen = [await _ask(port, "/who", tmp_path), await _ask(port, "/who", tmp_path)]
                _stop(process)
                seen.append(await _ask(port, "/who", tmp_path))
                process, _ = _start(port)
                seen.append(await _ask(port, "/who", tmp_path))
                return seen
        finally:
            _stop(process)

    first, second, down, back = asyncio.run(scenario())
    assert first.passed and second.passed
    # the same connection (client port) both times: the kept client did keep it
    assert first.detail.splitlines()[1].split()[0] == second.detail.splitlines()[1].split()[0]
    assert not down.passed
    assert "refused" in down.observed.lower(), down.observed
    assert back.passed, back.observed


def test_no_cookie_passes_from_one_ask_to_the_next(tmp_path: Path) -> None:
    async def scenario() -> tuple[Verdict, Verdict]:
        process, port = _start()
        try:
            async with http_clients.pooled():
                return await _ask(port, "/set", tmp_path), await _ask(port, "/who", tmp_path)
        finally:
            _stop(process)

    setting, after = asyncio.run(scenario())
    assert setting.passed and after.passed
    assert after.detail.splitlines()[1].split()[1] == "None", after.detail


def test_a_server_closing_each_connection_is_asked_on_a_new_one_each_time(
        tmp_path: Path) -> None:
    """HTTP/1.0: the kept client's (asyncio) connection is closed by the server after each
    answer; the next ask sees that and connects again, and answers as a client of its own
    would, a refused connection included."""
    async def scenario() -> tuple[list[Verdict], Verdict, Verdict]:
        process, port = _start(protocol="HTTP/1.0")
        try:
            async with http_clients.pooled():
                seen = [await _ask(port, "/who", tmp_path) for _ in range(3)]
                _stop(process)
                kept = await _ask(port, "/who", tmp_path)
            return seen, kept, await _ask(port, "/who", tmp_path)
        finally:
            _stop(process)

    seen, refused_kept, refused_alone = asyncio.run(scenario())
    assert all(v.passed for v in seen), [v.observed for v in seen]
    ports = {v.detail.splitlines()[1].split()[0] for v in seen}
    assert len(ports) == 3  # a new connection (client port) for every ask
    assert refused_kept.observed == refused_alone.observed == "connection refused"
