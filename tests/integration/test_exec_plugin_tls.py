"""Exec credential plugins that hand out client certificates, and plugins that take their
time: real plugin scripts against the real sandbox API server, whose CA signs the
certificates (so which certificate a request carried shows in who the server says we are)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from phasegate.errors import TargetError
from phasegate.kube import exec_plugin, kubeconfig
from phasegate.kube import target as kube_target
from phasegate.kube.client import KubeClient
from phasegate.kube.connections import KubeTarget
from phasegate.sandbox import SandboxInfo, pki
from phasegate.sandbox.client import PKI_DIR
from tests.integration import kubeconfig_helpers as kc

pytestmark = pytest.mark.cluster

REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def certificate(cluster: SandboxInfo, user: str, valid_for: dt.timedelta = pki.VALIDITY,
                expires: dt.datetime | None = None) -> dict[str, Any]:
    """An ExecCredential status holding a new client certificate for ``user``."""
    cert, key = pki.issue_client(cluster.work_dir / PKI_DIR, pki.Identity(user), valid_for)
    status: dict[str, Any] = {"clientCertificateData": cert.decode(),
                              "clientKeyData": key.decode()}
    if expires is not None:
        status["expirationTimestamp"] = expires.isoformat().replace("+00:00", "Z")
    return status


def untrusted_certificate(tmp_path: Path) -> dict[str, Any]:
    """A certificate from a CA the API server does not trust: it answers 401."""
    other = tmp_path / "other-ca"
    pki.generate(other, {})
    cert, key = pki.issue_client(other, pki.Identity("stranger"))
    return {"clientCertificateData": cert.decode(), "clientKeyData": key.decode()}


def plugin_config(cluster: SandboxInfo, tmp_path: Path, script: Path) -> Path:
    return kc.write(tmp_path / "kubeconfig", kc.exec_config(cluster, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
        "interactiveMode": "Never"}}))


async def who_am_i(client: KubeClient) -> str:
    response = await client.request("POST", REVIEW, body={
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert response.status_code == 201, response.text
    return str(response.json()["status"]["userInfo"]["username"])


def test_a_plugin_certificate_is_renewed_when_it_expires(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=6)
    script = kc.status_plugin(tmp_path / "plugin", [
        certificate(cluster, "first-cert", valid_for=dt.timedelta(seconds=6), expires=soon),
        certificate(cluster, "second-cert"),
    ])
    config = plugin_config(cluster, tmp_path, script)

    async def scenario() -> list[str]:
        client = KubeClient(kubeconfig.load(str(config), "exec"))
        try:
            first = await who_am_i(client)
            await asyncio.sleep(max((soon - dt.datetime.now(dt.UTC)).total_seconds(), 0) + 0.5)
            return [first, await who_am_i(client)]  # the old certificate is refused by now
        finally:
            await client.close()

    assert asyncio.run(scenario()) == ["first-cert", "second-cert"]
    assert len(kc.runs(tmp_path / "plugin")) == 2


def test_a_plugin_certificate_refused_with_401_is_asked_again(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    script = kc.status_plugin(tmp_path / "plugin", [untrusted_certificate(tmp_path),
                                                    certificate(cluster, "renewed-cert")])
    config = plugin_config(cluster, tmp_path, script)

    async def scenario() -> list[str]:
        client = KubeClient(kubeconfig.load(str(config), "exec"))
        try:
            return [await who_am_i(client), await who_am_i(client)]
        finally:
            await client.close()

    assert asyncio.run(scenario()) == ["renewed-cert", "renewed-cert"]
    assert len(kc.runs(tmp_path / "plugin")) == 2


def test_a_slow_plugin_does_not_block_the_event_loop(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    script = kc.status_plugin(tmp_path / "plugin", [certificate(cluster, "slow-cert")],
                              delay=1.5)
    config = plugin_config(cluster, tmp_path, script)

    async def scenario() -> tuple[float, str]:
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.02)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.1)  # ticking before the plugin is asked
        try:
            found = await kube_target.verify(KubeTarget(str(config), "exec"))
        finally:
            ticker.cancel()
        return max(b - a for a, b in itertools.pairwise(ticks)), found.server

    longest_gap, server = asyncio.run(scenario())
    assert server == cluster.api_url
    assert longest_gap < 1.0, f"the loop stood still for {longest_gap:.2f} s"


def test_a_plugin_that_hangs_is_stopped_with_a_clear_error(
    cluster: SandboxInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exec_plugin, "TIMEOUT", 1.0)
    script = kc.status_plugin(tmp_path / "plugin", [certificate(cluster, "never")], delay=60)
    config = plugin_config(cluster, tmp_path, script)
    started = time.monotonic()
    with pytest.raises(TargetError) as refused:
        asyncio.run(kube_target.verify(KubeTarget(str(config), "exec")))
    assert time.monotonic() - started < 10
    message = str(refused.value)
    assert "did not finish within 1s" in message and str(script) in message
