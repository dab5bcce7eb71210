"""The ``registry.catalog`` probe against the real registries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.probes.base import ProbeContext
from tests.fixtures.registry import Pushed, TokenRegistry


def ask(spec: dict[str, Any]) -> Observation:
    from phasegate.engine import attempt

    return asyncio.run(attempt.run(probe_call.build(spec), ProbeContext(base_dir=Path.cwd())))


def catalog(registry: Pushed, **wanted: Any) -> dict[str, Any]:
    r = registry.registry
    return {"registry.catalog": {"registry": r.host, "ca": str(r.ca), "username": r.username,
                                 "password": r.password, **wanted}}


def test_everything_present(registry: Pushed) -> None:
    seen = ask(catalog(registry, repositories=["shop/api", "shop/web", "public/base"],
                       tags={"shop/api": ["1.4.2", "1.4.3"], "shop/multi": ["1.0"]}))
    assert seen.passed, seen.observed
    assert seen.observed == "all 6 present (4 repositories listed)"
    assert seen.data["tags"]["shop/api"] == ["1.4.2", "1.4.3"]


def test_missing_repositories_and_tags_are_named_and_waitable(registry: Pushed) -> None:
    seen = ask(catalog(registry, repositories=["shop/api", "shop/cart"],
                       tags={"shop/api": ["1.4.2", "1.5.0"], "shop/gone": ["1"]}))
    assert not seen.passed and not seen.fail_fast  # a gate may wait for the push to land
    assert seen.observed == (
        "missing 3 of 5: shop/cart (repository), shop/api:1.5.0, shop/gone (repository)")


def test_catalog_needs_its_own_token_scope(token_registry: TokenRegistry, tmp_path: Path) -> None:
    host, ca = token_registry.registry.host, str(token_registry.registry.ca)
    alice = ask({"registry.catalog": {
        "registry": host, "ca": ca, "username": "alice",
        "password": token_registry.passwords["alice"], "repositories": ["shop/multi"]}})
    assert alice.passed, alice.observed
    anonymous = ask({"registry.catalog": {"registry": host, "ca": ca, "repositories": ["x"],
                                          "auth_file": str(tmp_path / "none.json")}})
    assert anonymous.fail_fast and anonymous.data["outcome"] == "unauthorized"
