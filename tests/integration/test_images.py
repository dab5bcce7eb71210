"""The ``image`` probe against real registries: each named outcome observed for real."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.engine import gate
from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from phasegate.probes.oci import tokens
from tests.fixtures.registry import WRONG_IP, FaultyProxy, Pushed, Registry, TokenRegistry


def ask(spec: dict[str, Any], base: Path | None = None) -> Observation:
    from phasegate.engine import attempt

    call = probe_call.build(spec)
    return asyncio.run(attempt.run(call, ProbeContext(base_dir=base or Path.cwd())))


def basic(registry: Pushed, ref: str, **extra: Any) -> dict[str, Any]:
    r = registry.registry
    return {"image": {"ref": f"{r.host}/{ref}", "ca": str(r.ca), "username": r.username,
                      "password": r.password, **extra}}


def bearer(served: TokenRegistry, ref: str, user: str = "alice", **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"ref": f"{served.registry.host}/{ref}",
                              "ca": str(served.registry.ca)}
    if user:
        params |= {"username": user, "password": served.passwords[user]}
    return {"image": params | extra}


def test_found_records_digest_type_and_pin(registry: Pushed) -> None:
    for ref, kind in [("shop/api:1.4.2", "OCI manifest"), ("shop/web:2.0", "Docker v2 manifest"),
                      ("shop/multi:1.0", "OCI index")]:
        seen = ask(basic(registry, ref))
        digest = registry.digests[ref]
        assert seen.passed, seen.observed
        assert seen.observed == f"found {digest} ({kind})"
        assert seen.data["pinned"] == f"{registry.registry.host}/{ref.split(':')[0]}@{digest}"
        assert "pin by digest" in seen.detail
        assert seen.data["http_version"] == "HTTP/2"  # the registry offers h2 over TLS


def test_by_digest_found_and_missing(registry: Pushed) -> None:
    digest = registry.digests["shop/api:1.4.2"]
    assert ask(basic(registry, f"shop/api@{digest}")).passed
    missing = ask(basic(registry, "shop/api@sha256:" + "0" * 64))
    assert (missing.observed, missing.fail_fast) == (
        f"manifest not found: sha256:{'0' * 64} in shop/api", True)


def test_tag_and_repository_not_found_are_told_apart(registry: Pushed) -> None:
    tag = ask(basic(registry, "shop/api:9.9.9"))
    assert (tag.observed, tag.fail_fast, tag.data["outcome"]) == (
        "tag not found: 9.9.9 in shop/api", True, "tag_not_found")
    repo = ask(basic(registry, "shop/nothing:1"))
    assert (repo.observed, repo.fail_fast, repo.data["outcome"]) == (
        "repository not found: shop/nothing", True, "repository_not_found")


def test_platforms_from_index_and_from_config(registry: Pushed) -> None:
    both = ask(basic(registry, "shop/multi:1.0", platforms=["linux/amd64", "linux/arm64"]))
    assert both.passed and both.data["platforms"] == ["linux/amd64", "linux/arm64"]
    missing = ask(basic(registry, "shop/multi:1.0", platforms=["linux/s390x"]))
    assert not missing.passed and missing.fail_fast
    assert missing.observed == "missing platform linux/s390x (offers linux/amd64, linux/arm64)"
    single = ask(basic(registry, "shop/api:1.4.2", platforms=["linux/amd64"]))
    assert single.passed and single.data["platforms"] == ["linux/amd64"]  # read from its config


def test_basic_auth_round_trips_cold_and_warm(registry: Pushed) -> None:
    tokens.forget_all()
    cold = ask(basic(registry, "shop/api:1.4.3"))
    warm = ask(basic(registry, "shop/api:1.4.3"))
    assert cold.passed and warm.passed
    assert (cold.data["round_trips"], warm.data["round_trips"]) == (2, 1)


def test_bearer_token_round_trips_cold_and_warm(token_registry: TokenRegistry) -> None:
    tokens.forget_all()
    before = token_registry.tokens.total()
    cold = ask(bearer(token_registry, "shop/api:1.4.2"))
    warm = ask(bearer(token_registry, "shop/api:1.4.2"))  # a new event loop: the cache is shared
    assert cold.passed and warm.passed, (cold.observed, warm.observed)
    assert (cold.data["round_trips"], warm.data["round_trips"]) == (3, 1)
    assert token_registry.tokens.total() - before == 1


def test_token_expiry_is_honoured(token_registry: TokenRegistry) -> None:
    tokens.forget_all()
    before = token_registry.tokens.total()
    assert ask(bearer(token_registry, "shop/web:2.0", user="brief")).passed
    assert ask(bearer(token_registry, "shop/web:2.0", user="brief")).data["round_trips"] == 1
    time.sleep(1.0)  # the server said expires_in: 1
    again = ask(bearer(token_registry, "shop/web:2.0", user="brief"))
    assert again.passed and again.data["round_trips"] == 2  # token, then HEAD
    assert token_registry.tokens.total() - before == 2


def test_anonymous_pull_where_allowed(token_registry: TokenRegistry, tmp_path: Path) -> None:
    no_config = str(tmp_path / "none.json")
    public = ask(bearer(token_registry, "public/base:1", user="", auth_file=no_config))
    assert public.passed and public.data["credentials"] == "anonymous"
    private = ask(bearer(token_registry, "shop/api:1.4.2", user="", auth_file=no_config))
    assert private.fail_fast and private.data["outcome"] == "unauthorized"
    assert private.observed.startswith("unauthorized: no access for shop/api")


def test_unauthorized_and_forbidden(
    registry: Pushed, token_registry: TokenRegistry, tmp_path: Path
) -> None:
    none = ask({"image": {"ref": f"{registry.registry.host}/shop/api:1.4.2",
                          "ca": str(registry.registry.ca), "auth_file": str(tmp_path / "x")}})
    assert none.observed == (
        "unauthorized: the registry requires credentials and none were found; "
        f"no {tmp_path / 'x'}")
    wrong = ask(basic(registry, "shop/api:1.4.2", password="not-the-password"))
    assert wrong.fail_fast and wrong.observed == (
        "unauthorized: credentials from probe parameters were refused")
    rejected = ask(bearer(token_registry, "shop/api:1.4.2", password="nope"))
    assert rejected.fail_fast and rejected.observed == (
        "unauthorized: token server: credentials from probe parameters were refused")
    forbidden = ask(bearer(token_registry, "shop/api:1.4.2", user="mallory"))
    assert forbidden.fail_fast and forbidden.data["outcome"] == "forbidden"
    assert forbidden.observed.startswith("forbidden: probe parameters may not access")


def test_credentials_from_docker_config_and_helpers(
    registry: Pushed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = registry.registry
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {f"https://{r.host}": {"auth": _b64(r)}}}))
    plain = {"ref": f"{r.host}/shop/api:1.4.2", "ca": str(r.ca), "auth_file": str(config)}
    seen = ask({"image": plain})
    assert seen.passed and seen.data["credentials"] == f"config.json ({config})"

    helper = tmp_path / "bin" / "docker-credential-pgtest"
    helper.parent.mkdir()
    answer = json.dumps({"ServerURL": r.host, "Username": r.username, "Secret": r.password})
    helper.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{answer}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config.write_text(json.dumps({"credHelpers": {r.host: "pgtest"}}))
    seen = ask({"image": plain})
    assert seen.passed and seen.data["credentials"] == "credential helper docker-credential-pgtest"

    config.write_text(json.dumps({"credHelpers": {r.host: "absent"}}))
    seen = ask({"image": plain})
    assert seen.data["outcome"] == "unauthorized"
    assert "credential helper docker-credential-absent not installed" in seen.observed


def _b64(r: Registry) -> str:
    import base64

    return base64.b64encode(f"{r.username}:{r.password}".encode()).decode()


def test_tls_failures_name_the_served_sans(
    registry: Pushed, wrong_san_registry: Registry
) -> None:
    wrong = ask({"image": {"ref": f"{wrong_san_registry.host}/shop/api:1.4.2",
                           "ca": str(wrong_san_registry.ca)}})
    assert wrong.fail_fast and wrong.data["outcome"] == "tls_failure"
    assert wrong.observed == (
        f"TLS failure: certificate is valid for {WRONG_IP}, registry.old.example, not 127.0.0.1")
    assert wrong.data["served_sans"] == [WRONG_IP, "registry.old.example"]
    untrusted = ask({"image": {"ref": f"{registry.registry.host}/shop/api:1.4.2"}})
    assert untrusted.fail_fast and untrusted.observed.startswith(
        "TLS failure: unable to get local issuer certificate")


def test_insecure_is_recorded_as_a_finding(wrong_san_registry: Registry) -> None:
    seen = ask({"image": {"ref": f"{wrong_san_registry.host}/shop/api:1.4.2", "insecure": True}})
    assert seen.passed
    assert seen.data["findings"] == ["TLS verification disabled (insecure: true)"]
    assert seen.observed.endswith("[TLS verification disabled (insecure: true)]")


def test_rate_limits_and_server_errors(registry: Pushed, registry_proxy: FaultyProxy) -> None:
    def via_proxy(rule: str) -> Observation:
        r = registry.registry
        return ask({"image": {"ref": f"{registry_proxy.host}/{rule}/shop/api:1.4.2",
                              "ca": str(r.ca), "username": r.username, "password": r.password}})

    limited = via_proxy("ratelimited")
    assert (limited.observed, limited.fail_fast) == ("rate limited (429, Retry-After 30 s)", False)
    assert limited.data["retry_after"] == 30
    down = via_proxy("down")
    assert (down.observed, down.fail_fast) == (
        "server error 503 Service Unavailable after 3 retries", False)
    assert down.data["round_trips"] == 4
    for rule in ("once429", "once503"):  # retried with backoff, then answered
        recovered = via_proxy(rule)
        assert recovered.passed and recovered.data["retries"] == 1, recovered.observed
    no_head = via_proxy("nohead")
    assert no_head.passed and no_head.observed.startswith("found sha256:")


def test_unreachable_is_not_fail_fast(closed_port: int) -> None:
    seen = ask({"image": {"ref": f"127.0.0.1:{closed_port}/shop/api:1"}})
    assert (seen.observed, seen.fail_fast) == ("unreachable: connection refused", False)


def test_many_images_share_connection_and_tokens(token_registry: TokenRegistry) -> None:
    tokens.forget_all()
    present = ["shop/api:1.4.2", "shop/api:1.4.3", "shop/web:2.0", "shop/multi:1.0",
               "public/base:1"]
    refs = [*present * 8, *(f"shop/api:missing-{n}" for n in range(10))]
    calls = [probe_call.build({**bearer(token_registry, ref), "name": f"{ref} #{n}"})
             for n, ref in enumerate(refs)]
    before = token_registry.tokens.total()

    cold = asyncio.run(gate.evaluate(calls, ProbeContext()))
    assert sum(o.passed for o in cold.finals) == 40
    assert all(o.data["outcome"] == "tag_not_found" for o in cold.finals[40:])
    assert token_registry.tokens.total() - before == 4  # one per repository, not per image
    assert max(o.data["round_trips"] for o in cold.finals[:40]) <= 3
    assert {o.data["http_version"] for o in cold.finals} == {"HTTP/2"}

    warm = asyncio.run(gate.evaluate(calls, ProbeContext()))
    assert {o.data["round_trips"] for o in warm.finals[:40]} == {1}
    assert token_registry.tokens.total() - before == 4


def test_credentials_never_reach_the_observation(
    registry: Pushed, token_registry: TokenRegistry
) -> None:
    tokens.forget_all()
    seen = [ask(basic(registry, "shop/api:1.4.2")),
            ask(bearer(token_registry, "shop/api:1.4.2")),
            ask(basic(registry, "shop/api:1.4.2", password="wrong-password-here"))]
    text = json.dumps([o.to_dict() for o in seen])
    for secret in (registry.registry.password, token_registry.passwords["alice"],
                   "wrong-password-here", _b64(registry.registry)):
        assert secret not in text
    assert "******" in text


def _open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the descriptor listdir itself used
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def test_registry_clients_are_closed_when_their_event_loop_ends(registry: Pushed) -> None:
    # every probe run (CLI, Python API, a test's asyncio.run) ends its loop; a client left
    # open keeps its connection, and its loop, alive for the life of the process
    import gc

    ask(basic(registry, "shop/api:1.4.2"))  # imports and one-time setup out of the count
    gc.collect()
    before = _open_sockets()
    for _ in range(3):
        assert ask(basic(registry, "shop/api:1.4.2")).passed
    gc.collect()
    assert _open_sockets() <= before
