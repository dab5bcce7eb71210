"""Fixtures of the integration tests that several modules share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from phasegate.sandbox import SandboxInfo, connect


@pytest.fixture
def fresh_namespace(cluster: SandboxInfo) -> Iterator[str]:
    """A namespace name the plan itself creates; removed afterwards."""
    name = f"wf-{uuid.uuid4().hex[:8]}"
    yield name
    with connect(cluster) as api:
        api.request("DELETE", f"/api/v1/namespaces/{name}")
