"""A kubeconfig that cannot be used is exit 2 with one paragraph naming what is wrong."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import PHASEGATE

PROBE = "{k8s.exists: {kind: Namespace, name: kube-system}}"


def kubeconfig(path: Path, server: str = "https://127.0.0.1:1", cluster: dict[str, Any] | None
               = None, user: dict[str, Any] | None = None) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": "u", "user": user or {}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def refused(config: Path, tmp_path: Path) -> str:
    # no terminal on standard input, even when the tests run in one (interactiveMode)
    done = subprocess.run(
        [PHASEGATE, "probe", PROBE, "--context", "x", "--kubeconfig", str(config),
         "--store", str(tmp_path / "store" / "e.db")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "200"})
    printed = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, printed
    assert "Traceback" not in printed and printed.count("error:") == 1, printed
    return printed


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(("cluster", "user", "named"), [
    ({}, {"tokenFile": "no-such-token"}, "tokenFile"),
    ({"certificate-authority": "no-such-ca.crt"}, {}, "no-such-ca.crt"),
    ({}, {"client-certificate": "no-such.crt", "client-key": "no-such.key"}, "no-such.crt"),
    ({"certificate-authority-data": "not base64 at all!"}, {}, "certificate-authority-data"),
    ({}, {"client-certificate-data": "%%%", "client-key-data": "%%%"},
     "client-certificate-data"),
    ({"certificate-authority-data": "bm90IGEgY2VydGlmaWNhdGU="}, {}, "certificate authority"),
    # the certificate is there, its key is not (or is not base64): the key is named
    ({}, {"client-certificate": "client.crt", "client-key": "no-such.key"}, "no-such.key"),
    ({}, {"client-certificate-data": base64.b64encode(PEM.encode()).decode(),
          "client-key-data": "%%%"}, "client-key-data"),
    ({}, {"tokenFile": "token-directory"}, "token-directory"),
])
def test_a_missing_file_or_bad_data_names_the_file_and_entry(
    tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any], named: str
) -> None:
    (tmp_path / "client.crt").write_text(PEM)
    (tmp_path / "token-directory").mkdir()  # a tokenFile that is there but cannot be read
    config = kubeconfig(tmp_path / "kubeconfig", cluster=cluster, user=user)
    printed = refused(config, tmp_path)
    assert str(config) in printed and named in printed


def test_a_context_naming_an_undefined_user_names_it(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "ghost"}}],
    }))
    assert "'ghost'" in refused(config, tmp_path)


class _NotKubernetes(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        # /broken/version claims JSON and is not; anything else is a web page
        json_lie = self.path.startswith("/broken/")
        body = b'{"major": "1", "gitVer' if json_lie else \
            b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if json_lie else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotKubernetes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_server_that_is_not_kubernetes_names_the_url(web_server: str, tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", server=web_server)
    printed = refused(config, tmp_path)
    assert f"{web_server}/version" in printed and "text/html" in printed


def test_a_version_that_claims_json_and_is_not_names_the_url(
    web_server: str, tmp_path: Path
) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", server=f"{web_server}/broken")
    printed = refused(config, tmp_path)
    assert f"{web_server}/broken/version" in printed and "not a Kubernetes JSON" in printed


V1 = "client.authentication.k8s.io/v1"


@pytest.mark.parametrize(("plugin", "named"), [
    ({"apiVersion": V1, "command": "true"}, "interactiveMode"),
    ({"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "true",
      "interactiveMode": "Never"}, "v1alpha1"),
    ({"apiVersion": V1, "interactiveMode": "Never", "command": "sh",
      "args": ["-c", "echo 'oops Pl4intext-S3cret-Token'"]}, "not JSON"),
    ({"apiVersion": V1, "interactiveMode": "Never", "command": "sh", "args": ["-c", (
        "echo '{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", "
        "\"kind\": \"ExecCredential\", \"status\": {\"token\": \"Pl4intext-S3cret-Token\"}}'")]},
     "v1beta1"),
    ({"apiVersion": V1, "interactiveMode": "Always", "command": "true"}, "interactive"),
])
def test_a_bad_exec_plugin_is_refused_without_quoting_its_output(
    tmp_path: Path, plugin: dict[str, Any], named: str
) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", user={"exec": plugin})
    printed = refused(config, tmp_path)
    assert str(config) in printed and named in printed
    assert "Pl4intext-S3cret-Token" not in printed
