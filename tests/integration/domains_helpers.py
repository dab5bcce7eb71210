"""What the domains tests share: a store of either kind, and an HTTP service whose health
a test switches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from phasegate.store.evidence import EvidenceStore


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EvidenceStore]:
    url = (str(tmp_path / "evidence.db") if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    store = EvidenceStore(url)
    yield store
    store.close()


class Switch:
    """A real HTTP service: ``/health`` answers 200 while ``up``, 503 otherwise."""

    def __init__(self) -> None:
        self.up = True
        self.token: str | None = None  # when set, only "Bearer <token>" is answered 200
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status = 200 if switch.up else 503
                if switch.token and self.headers.get("Authorization") != f"Bearer {switch.token}":
                    status = 401
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def switch() -> Iterator[Switch]:
    service = Switch()
    yield service
    service.close()
