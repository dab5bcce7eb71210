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
    protocol_version = "HTTP/1.1"  # keep-alive: a kept client reuses its connection
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


def _start(port: int = 0) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)],
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
