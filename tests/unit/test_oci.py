"""Image references, auth challenges and the token cache: pure rules, no registry needed."""

from __future__ import annotations

import time

import pytest

from phasegate.probes import tls
from phasegate.probes.oci import reference, tokens


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", None),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
        ("127.0.0.1:5000/shop/api:1.4.2", "127.0.0.1:5000", "shop/api", "1.4.2", None),
        ("localhost/a/b", "localhost", "a/b", "latest", None),
        ("ghcr.io/o/r@sha256:" + "a" * 64, "ghcr.io", "o/r", None, "sha256:" + "a" * 64),
        ("reg.io:443/r:t@sha256:" + "b" * 64, "reg.io:443", "r", "t", "sha256:" + "b" * 64),
        ("[::1]:5000/x:y", "[::1]:5000", "x", "y", None),
        ("index.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", None),
    ],
)
def test_references_parse_as_docker_does(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag,
                                                                    digest)
    assert ref.reference == (digest or tag)


def test_docker_hub_api_host() -> None:
    assert reference.parse("nginx").api_host == "registry-1.docker.io"


@pytest.mark.parametrize("text", ["", " x", "Shop/API:1", "a/b:", "a/b:bad tag", "a@sha256:xyz",
                                  "host:port:5000/a"])
def test_invalid_references_say_why(text: str) -> None:
    with pytest.raises(reference.InvalidReference):
        reference.parse(text)


def test_challenges() -> None:
    bearer = tokens.parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull",error="insufficient_scope"')
    assert bearer == tokens.Challenge("bearer", "https://auth.example/token", "registry.example")
    assert tokens.challenge_error('Bearer realm="x",error="insufficient_scope"') == (
        "insufficient_scope")
    assert tokens.parse_challenge('Basic realm="Registry Realm"') == tokens.Challenge(
        "basic", "Registry Realm")
    assert tokens.parse_challenge("Negotiate") is None


def test_tokens_expire_before_expires_in_runs_out() -> None:
    key = ("realm", "service", "repository:a:pull", "")
    tokens.remember_token(key, "tok", 0.05, time.monotonic())
    assert tokens.token(key) == "tok"
    time.sleep(0.05)
    assert tokens.token(key) is None
    other = ("realm", "service", "repository:a:pull", tokens.identity("bob", "pw"))
    tokens.remember_token(other, "bobs", None, time.monotonic())  # spec default: 60 s
    assert tokens.token(other) == "bobs" and tokens.token(key) is None


def test_san_matching_with_wildcards_and_ips() -> None:
    from datetime import UTC, datetime

    cert = tls.Certificate("CN=x", "CN=ca", ("*.apps.local", "registry.local"),
                           ("10.0.0.1", "::1"), datetime.now(UTC), "ec", 256, "")
    assert cert.covers("shop.apps.local") and cert.covers("REGISTRY.local.")
    assert not cert.covers("a.b.apps.local") and not cert.covers("apps.local")
    assert cert.covers("10.0.0.1") and cert.covers("[::1]") and cert.covers("0:0::1")
    assert not cert.covers("10.0.0.2")
