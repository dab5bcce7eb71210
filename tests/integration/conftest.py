"""Fixtures of the integration tests that several modules share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from phasegate.sandbox import SandboxInfo, connect


@pytest.fixture
def fresh_namespace(cluster: SandboxInfo) -> Iterator[str]:
    """A namespace name the plan itself creates; removed afterwards."""
    yield from _fresh(cluster)


@pytest.fixture
def fresh_real_namespace(real_cluster: SandboxInfo) -> Iterator[str]:
    """The same, in the sandbox with a real node."""
    yield from _fresh(real_cluster)


def _fresh(cluster: SandboxInfo) -> Iterator[str]:
    name = f"wf-{uuid.uuid4().hex[:8]}"
    yield name
    with connect(cluster) as api:
        api.request("DELETE", f"/api/v1/namespaces/{name}")
