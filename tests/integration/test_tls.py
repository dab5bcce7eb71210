"""The ``tls`` probe against real TLS endpoints: the registries and a server choosing by SNI."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from tests.fixtures import tls_servers
from tests.fixtures.registry import WRONG_IP, Pushed, Registry, RegistryPKI


def ask(spec: dict[str, Any]) -> Observation:
    from phasegate.engine import attempt

    return asyncio.run(attempt.run(probe_call.build(spec), ProbeContext(base_dir=Path.cwd())))


@dataclass(frozen=True)
class SniServer:
    port: int
    ca: Path


@pytest.fixture(scope="module")
def sni_server(registry_pki: RegistryPKI, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[SniServer]:
    """EC cert for 127.0.0.1 by default; an RSA cert for registry.local, 10 days left."""
    directory = tmp_path_factory.mktemp("sni")
    default = registry_pki.ca.issue(directory, "default", ["127.0.0.1"])
    named = registry_pki.ca.issue(directory, "named", ["registry.local", "*.apps.local"],
                                  days=10, rsa_bits=2048)

    by_name = named.server_context()

    def choose(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        if name == "registry.local":
            sock.context = by_name

    context = default.server_context()
    context.sni_callback = choose  # type: ignore[assignment]
    server = tls_servers.serve(context)
    yield SniServer(server.server_address[1], registry_pki.ca.pem)
    server.shutdown()
    server.server_close()


def test_registry_certificate_is_trusted_and_covers_its_ip(registry: Pushed) -> None:
    r = registry.registry
    seen = ask({"tls": {"host": "127.0.0.1", "port": r.port, "ca": str(r.ca), "min_days": 14,
                        "issuer": "phasegate test CA", "key_type": "ec"}})
    assert seen.passed, seen.observed
    assert seen.observed.startswith("SAN 127.0.0.1, localhost; 90 days left")
    assert seen.data["sans"] == ["127.0.0.1", "localhost"] and seen.data["trusted"]


def test_wrong_san_lists_what_is_served(wrong_san_registry: Registry) -> None:
    seen = ask({"tls": {"host": "127.0.0.1", "port": wrong_san_registry.port,
                        "ca": str(wrong_san_registry.ca), "san": ["127.0.0.1"]}})
    assert seen.fail_fast
    assert seen.observed == f"SAN lacks 127.0.0.1 (valid for {WRONG_IP}, registry.old.example)"


def test_untrusted_chain_and_verify_false(registry: Pushed) -> None:
    port = registry.registry.port
    untrusted = ask({"tls": {"host": "127.0.0.1", "port": port}})
    assert untrusted.fail_fast
    assert untrusted.observed == "untrusted: unable to get local issuer certificate"
    unchecked = ask({"tls": {"host": "127.0.0.1", "port": port, "verify": False}})
    assert unchecked.passed and unchecked.data["findings"] == ["chain not verified (verify: false)"]


def test_sni_selects_the_certificate(sni_server: SniServer) -> None:
    base = {"host": "127.0.0.1", "port": sni_server.port, "ca": str(sni_server.ca)}
    by_ip = ask({"tls": base})
    assert by_ip.passed and by_ip.data["sans"] == ["127.0.0.1"]
    named = ask({"tls": {**base, "server_name": "registry.local",
                         "san": ["registry.local", "shop.apps.local"],
                         "key_type": "rsa", "min_key_size": 2048}})
    assert named.passed, named.observed
    assert named.data["key_type"] == "rsa" and named.data["key_size"] == 2048


def test_expiry_issuer_and_key_problems(sni_server: SniServer) -> None:
    base = {"host": "127.0.0.1", "port": sni_server.port, "ca": str(sni_server.ca),
            "server_name": "registry.local"}
    soon = ask({"tls": {**base, "min_days": 30}})
    assert not soon.passed and not soon.fail_fast  # a renewal can still fix it
    assert soon.observed.startswith("expires in 10.0 days (")
    wrong = ask({"tls": {**base, "issuer": "Let's Encrypt", "key_type": "ec",
                         "min_key_size": 4096}})
    assert wrong.fail_fast
    assert wrong.observed == (
        "issuer CN=phasegate test CA does not match /Let's Encrypt/; key is rsa, not ec; "
        "key is 2048 bits, want ≥ 4096")


def test_closed_port_is_unreachable(closed_port: int) -> None:
    seen = ask({"tls": {"host": "127.0.0.1", "port": closed_port}})
    assert (seen.observed, seen.fail_fast) == ("unreachable: connection refused", False)
