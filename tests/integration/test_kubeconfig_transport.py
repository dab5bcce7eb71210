"""tokenFile, client certificate files, tls-server-name and proxy-url against the sandbox."""

from __future__ import annotations

import asyncio
import base64
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phasegate.kube import kubeconfig
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo
from tests.integration import kubeconfig_helpers as kc
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster


def probe(config: Path, context: str, tmp_path: Path) -> tuple[int, str]:
    done = phasegate("probe", kc.PROBE, "--context", context, "--kubeconfig", str(config),
                     "--store", str(tmp_path / "store" / "e.db"))
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def with_cluster(cluster: SandboxInfo, **fields: Any) -> dict[str, Any]:
    config = kc.sandbox_config(cluster)
    config["clusters"][0]["cluster"].update(fields)
    return config


def test_a_token_file_is_read_again_when_it_changes(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(kc.service_account_token(cluster, namespace))
    config = kc.write(tmp_path / "kubeconfig",
                      kc.exec_config(cluster, {"tokenFile": "token"}))  # relative to the file

    async def statuses() -> list[int]:
        client = KubeClient(kubeconfig.load(str(config), "exec"))
        seen = []
        try:
            for content in ("revoked-token-0123456789",
                            kc.service_account_token(cluster, namespace)):
                seen.append((await client.request("GET", "/api/v1/namespaces")).status_code)
                token_file.write_text(content)
            seen.append((await client.request("GET", "/api/v1/namespaces")).status_code)
        finally:
            await client.close()
        return seen

    assert asyncio.run(statuses()) == [200, 401, 200]


def test_client_certificate_and_key_files_relative_to_the_kubeconfig(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    config = kc.sandbox_config(cluster)
    admin = next(u for u in config["users"] if u["name"] == "phasegate-admin")["user"]
    (tmp_path / "pki").mkdir()
    for key, name in (("client-certificate", "admin.crt"), ("client-key", "admin.key")):
        (tmp_path / "pki" / name).write_bytes(base64.b64decode(admin.pop(f"{key}-data")))
        admin[key] = f"pki/{name}"
    code, printed = probe(kc.write(tmp_path / "kubeconfig", config), cluster.admin_context,
                          tmp_path)
    assert code == 0, printed


def test_tls_server_name_is_the_name_checked_in_the_server_certificate(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    good = kc.write(tmp_path / "good", with_cluster(cluster, **{
        "tls-server-name": "kubernetes.default"}))
    code, printed = probe(good, cluster.admin_context, tmp_path)
    assert code == 0, printed
    wrong = kc.write(tmp_path / "wrong", with_cluster(cluster, **{
        "tls-server-name": "not-the-apiserver.example"}))
    code, printed = probe(wrong, cluster.admin_context, tmp_path)
    assert code == 2 and "not-the-apiserver.example" in printed, printed


class _Tunnel(socketserver.BaseRequestHandler):
    """A real HTTP CONNECT proxy: one tunnel per connection, remembered by the server."""

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        target = head.split(b" ")[1].decode()
        self.server.tunnels.append(target)  # type: ignore[attr-defined]
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            sockets = [self.request, upstream]
            while True:
                readable, _, _ = select.select(sockets, [], [], 10)
                if not readable:
                    return
                for ready in readable:
                    data = ready.recv(65536)
                    if not data:
                        return
                    (upstream if ready is self.request else self.request).sendall(data)


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Tunnel)
    server.daemon_threads = True
    server.tunnels = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server.tunnels  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_proxy_url_carries_every_connection(
    cluster: SandboxInfo, tmp_path: Path, proxy: tuple[str, list[str]]
) -> None:
    url, tunnels = proxy
    config = kc.write(tmp_path / "kubeconfig", with_cluster(cluster, **{"proxy-url": url}))
    code, printed = probe(config, cluster.admin_context, tmp_path)
    assert code == 0, printed
    assert tunnels and set(tunnels) == {cluster.api_url.removeprefix("https://")}
