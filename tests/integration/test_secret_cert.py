"""k8s.secret_cert: the certificate in a TLS Secret, against a real TLS endpoint."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo, connect
from tests.fixtures import pki, tls_servers
from tests.integration.k8s_helpers import evaluate

pytestmark = pytest.mark.cluster


@pytest.fixture
def issued(tmp_path: Path) -> tuple[pki.Issued, pki.Issued]:
    authority = pki.authority(tmp_path / "ca")
    new = authority.issue(tmp_path, "new", ["127.0.0.1", "registry.local"], days=60)
    old = authority.issue(tmp_path, "old", ["192.0.2.18"], days=5)
    return new, old


@pytest.fixture
def endpoint(issued: tuple[pki.Issued, pki.Issued]) -> Iterator[str]:
    """A TLS server that serves the new certificate."""
    server = tls_servers.serve(issued[0].server_context())
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def tls_secret(cluster: SandboxInfo, namespace: str, name: str, cert: pki.Issued) -> str:
    key_b64 = base64.b64encode(cert.key.read_bytes()).decode()
    with connect(cluster) as api:
        api.create(f"/api/v1/namespaces/{namespace}/secrets", {
            "metadata": {"name": name}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(cert.cert.read_bytes()).decode(),
                     "tls.key": key_b64}})
    return key_b64


def test_secret_certificate_checked_and_compared_with_the_endpoint(
    cluster: SandboxInfo, namespace: str, issued: tuple[pki.Issued, pki.Issued], endpoint: str
) -> None:
    new_key = tls_secret(cluster, namespace, "registry-tls", issued[0])
    tls_secret(cluster, namespace, "registry-tls-old", issued[1])
    result = evaluate(cluster, namespace, [
        {"k8s.secret_cert": {"name": "registry-tls", "san": ["127.0.0.1"], "min_days": 30,
                             "endpoint": endpoint}},
        {"k8s.secret_cert": {"name": "registry-tls-old", "san": ["127.0.0.1"], "min_days": 30,
                             "endpoint": endpoint}},
        {"k8s.secret_cert": {"name": "absent"}},
    ])
    good, stale, absent = result.finals
    assert good.passed, good.observed
    assert "SAN 127.0.0.1, registry.local" in good.observed
    assert not stale.passed and stale.fail_fast
    assert "SAN lacks 127.0.0.1 (valid for 192.0.2.18)" in stale.observed
    assert "expires in" in stale.observed
    assert f"{endpoint} serves another certificate" in stale.observed
    assert absent.observed == "Secret not found"
    evidence = json.dumps([o.to_dict() for o in result.observations])
    assert "PRIVATE KEY" not in evidence and new_key[:40] not in evidence
