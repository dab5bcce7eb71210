"""Watches that fail well: a refused or failing watch polls with backoff, never spins, and
a watch event stays with the gate that saw it. Against the real API server."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from phasegate import errors
from phasegate.engine import gate
from phasegate.kube import connections
from phasegate.kube.client import KubeClient
from phasegate.kube.connections import KubeTarget
from phasegate.plan import probe_call
from phasegate.probes import registry
from phasegate.probes.base import ProbeContext
from phasegate.sandbox import SandboxInfo, connect
from phasegate.store import evidence
from phasegate.workflow import recorded_gate
from tests.integration import kubeconfig_helpers as kc
from tests.integration.k8s_helpers import context_for, with_client

pytestmark = pytest.mark.cluster


def lister_identity(cluster: SandboxInfo, namespace: str, tmp_path: Path) -> ProbeContext:
    """A ServiceAccount with a real TokenRequest token, allowed get and list on configmaps
    in ``namespace`` but not watch: what many read-only CI identities look like."""
    with connect(cluster) as api:
        api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles", {
            "metadata": {"name": "list-configmaps"}, "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]})
    token = kc.service_account_token(cluster, namespace, name="lister",
                                     role=("Role", "list-configmaps"), cluster_wide=False)
    path = kc.token_kubeconfig(cluster, tmp_path / "lister.kubeconfig", "lister", token)
    return ProbeContext(extras={"kube": KubeTarget(str(path), "lister", namespace),
                                "inputs": {}})


def counted_gate(
    ctx: ProbeContext, specs: list[dict[str, Any]], timeout: float
) -> tuple[gate.GateResult, Counter[str]]:
    """The gate's result and the requests its client made: "LIST" or "WATCH" of objects
    (discovery, asked once, is not counted)."""
    calls = [probe_call.build(spec) for spec in specs]
    requests: Counter[str] = Counter()

    async def count(request: httpx.Request) -> None:
        segments = request.url.path.strip("/").split("/")
        if len(segments) <= (2 if segments[0] == "api" else 3):
            return  # /api, /api/v1, /apis, /apis/GROUP/VERSION: discovery
        requests["WATCH" if request.url.params.get("watch") == "true" else "LIST"] += 1

    async def run() -> gate.GateResult:
        try:
            client = connections.client_for(ctx)
            client._http.event_hooks["request"].append(count)  # counts what goes out
            return await gate.evaluate(calls, ctx, timeout)
        finally:
            await connections.close_all()

    return asyncio.run(run()), requests


def create_later(cluster: SandboxInfo, namespace: str, name: str, after: float) -> None:
    def create() -> None:
        time.sleep(after)
        with connect(cluster) as api:
            api.create(f"/api/v1/namespaces/{namespace}/configmaps",
                       {"metadata": {"name": name}, "data": {"k": "v"}})

    threading.Thread(target=create, daemon=True).start()


def test_a_forbidden_watch_polls_with_backoff_not_a_hot_loop(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    ctx = lister_identity(cluster, namespace, tmp_path)
    result, requests = counted_gate(
        ctx, [{"k8s.exists": {"kind": "ConfigMap", "name": "never"}}], timeout=3)
    assert result.outcome == "timed_out"
    assert requests["LIST"] <= 3, requests  # a 0.1 s re-list loop makes ~30 in 3 s
    assert requests["WATCH"] == 1, requests  # refused once: not asked again in this gate
    [(_, waiting)] = result.intervals
    assert isinstance(waiting, str) and waiting.startswith("polled every 2s"), waiting
    assert "watch forbidden" in waiting and 'cannot watch resource "configmaps"' in waiting


def test_the_step_detail_says_it_polled_and_how_often(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    ctx = lister_identity(cluster, namespace, tmp_path)
    store = evidence.EvidenceStore(str(tmp_path / "e.db"))
    run_id = store.start_run("check")
    calls = [probe_call.build({"k8s.exists": {"kind": "ConfigMap", "name": "never"}})]

    async def run() -> None:
        try:
            await recorded_gate.run(store, run_id, "V", "config", calls, ctx, 1.5)
        finally:
            await connections.close_all()

    asyncio.run(run())
    [step] = store.load(run_id).steps
    store.close()
    assert "waiting: k8s.exists ConfigMap never polled every 2s, backing off to 30s " \
           "(watch forbidden: 403 Forbidden: " in step.detail, step.detail


def test_a_forbidden_watch_still_sees_the_change_by_polling(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    ctx = lister_identity(cluster, namespace, tmp_path)
    create_later(cluster, namespace, "late", after=1.0)
    started = time.monotonic()
    result, _ = counted_gate(ctx, [{"k8s.exists": {"kind": "ConfigMap", "name": "late"},
                                    "interval": "500ms"}], timeout=20)
    assert result.passed, [o.observed for o in result.finals]
    assert time.monotonic() - started < 5
    [(_, waiting)] = result.intervals
    assert isinstance(waiting, str) and waiting.startswith("polled every 0.5s"), waiting


def test_a_kind_that_cannot_be_watched_polls(cluster: SandboxInfo, namespace: str) -> None:
    # componentstatuses are listed, never watched (their list has no resourceVersion, a
    # watch is answered 405)
    result, requests = counted_gate(context_for(cluster, namespace), [
        {"k8s.exists": {"kind": "ComponentStatus", "name": "no-such-component"}}], timeout=3)
    assert result.outcome == "timed_out"
    assert requests["LIST"] <= 3 and requests["WATCH"] <= 1, requests
    [(_, waiting)] = result.intervals
    assert isinstance(waiting, str) and waiting.startswith("polled every 2s"), waiting
    assert "cannot be watched" in waiting, waiting

    async def watch(client: KubeClient) -> None:
        async for _ in client.watch("/api/v1/componentstatuses", "1", 2):
            pass

    with pytest.raises(errors.WatchRefused, match="watch not supported: 405 MethodNotAllowed"):
        with_client(cluster, namespace, watch)


def test_an_event_seen_by_one_gate_is_not_read_by_the_next(
    cluster: SandboxInfo, namespace: str
) -> None:
    """A gate that stops while its watch holds an event (another check failed fast, its
    time ran out) must not leave that event for a later gate to read as the present."""
    ctx = context_for(cluster, namespace)
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    params = {"kind": "ConfigMap", "name": "flag"}
    spec = registry.get("k8s.absent")
    assert spec is not None and spec.wait is not None
    checked = spec.params(**params)

    async def run() -> tuple[bool, gate.GateResult]:
        try:
            with connect(cluster) as api:
                api.create(path, {"metadata": {"name": "flag"}, "data": {"v": "1"}})
                verdict = await spec.check(checked, ctx)  # the first gate's attempt
                api.request("PATCH", f"{path}/flag", {"data": {"v": "2"}},
                            content_type="application/merge-patch+json").raise_for_status()
                changed = await spec.wait(checked, ctx, verdict.data, 5)  # it saw the event
                api.request("DELETE", f"{path}/flag").raise_for_status()
            later = await gate.evaluate([probe_call.build({"k8s.absent": params})], ctx, 0)
            return changed, later
        finally:
            await connections.close_all()

    changed, later = asyncio.run(run())
    assert changed
    assert later.passed, later.finals[0].observed  # gone now, whatever the watch once saw


GROUP = "watchfail.phasegate.dev"


def flag_kind(cluster: SandboxInfo) -> str:
    """A custom kind, and an RV from before its CRD: the API server keeps no history that
    old for it, so a watch from there is answered 410 Gone ("too old resource version")."""
    with connect(cluster) as api:
        before = api.get("/api/v1/namespaces/default")
        assert before is not None
        api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"flags.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "flags", "singular": "flag", "kind": "Flag"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                         "openAPIV3Schema": {"type": "object",
                                             "x-kubernetes-preserve-unknown-fields": True}}}]}})
        deadline = time.monotonic() + 30
        # served, and in discovery (which finds the kind): a gate that starts earlier errors
        while api.request("GET", f"/apis/{GROUP}/v1/flags").status_code != 200 or (
                GROUP not in api.request("GET", "/apis").text):
            assert time.monotonic() < deadline, "the Flag CRD is never served"
            time.sleep(0.2)
    return str(before["metadata"]["resourceVersion"])


def expiring_probe(monkeypatch: pytest.MonkeyPatch, expired_rv: str, times: int) -> str:
    """``k8s.exists`` whose first ``times`` observations carry an expired resourceVersion:
    what a check holds when the server's history moved on between its list and its watch."""
    exists = registry.get("k8s.exists")
    assert exists is not None
    handed = [0]

    async def check(params: Any, ctx: ProbeContext) -> Any:
        verdict = await exists.check(params, ctx)
        if handed[0] < times:
            handed[0] += 1
            verdict.data["watch"][0]["rv"] = expired_rv
        return verdict

    kind = "test.exists_expiring"
    monkeypatch.setitem(registry.all_probes(), kind,
                        dataclasses.replace(exists, kind=kind, check=check))
    return kind


def test_a_410_gone_relists_and_watches_again(
    cluster: SandboxInfo, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = expiring_probe(monkeypatch, flag_kind(cluster), times=1)
    ctx = context_for(cluster, namespace)
    created: list[datetime] = []  # before the create was sent, and once it was answered

    def create() -> None:
        time.sleep(1.5)
        with connect(cluster) as api:
            created.append(datetime.now(UTC))
            api.create(f"/apis/{GROUP}/v1/namespaces/{namespace}/flags",
                       {"apiVersion": f"{GROUP}/v1", "kind": "Flag", "metadata": {"name": "up"}})
            created.append(datetime.now(UTC))

    creator = threading.Thread(target=create, daemon=True)
    creator.start()
    result, requests = counted_gate(ctx, [{kind: {"kind": "Flag", "name": "up"}}], timeout=20)
    creator.join(10)
    assert result.passed, [o.observed for o in result.finals]
    assert requests["WATCH"] == 2, requests  # 410 at once, then the watch that saw it
    # the passing state is the second watch's event: a list (a poll) would be a third LIST
    assert requests["LIST"] == 2, requests
    # ... and it came as it happened: the verdict within a second of the create's answer
    # (timed in the gate, not after the client's teardown; not counting the create's own
    # latency, which a loaded machine stretches)
    verdict = result.finals[0].finished
    assert created[0] < verdict and (verdict - created[1]).total_seconds() < 1.0, (
        created, verdict, [(o.observed, o.started, o.finished) for o in result.observations])
    observed = [o.observed for o in result.observations]
    assert observed[:2] == ["not found", "not found"] and len(observed) == 3, observed
    assert result.intervals[0][1] == "watch"


def test_a_watch_that_keeps_expiring_polls_with_backoff(
    cluster: SandboxInfo, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = expiring_probe(monkeypatch, flag_kind(cluster), times=1000)
    result, requests = counted_gate(context_for(cluster, namespace),
                                    [{kind: {"kind": "Flag", "name": "never"}}], timeout=3)
    assert result.outcome == "timed_out"
    assert requests["WATCH"] == 3, requests  # then it stopped watching
    assert requests["LIST"] <= 6, requests  # a 0.1 s loop makes ~30 lists in 3 s
    [(_, waiting)] = result.intervals
    assert waiting == ("polled every 2s, backing off to 30s (the watch ended at once 3 times "
                       "in a row: expired or dropped)")
