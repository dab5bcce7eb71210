"""CRDs and their resources in one plan, with the Gateway API's own standard-channel bundle
(../shared/public/gateway-api-crds): applied in waves in one phase, previewed as "created
after phase 1" across phases, and approved by a hash that covers those manifests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from phasegate.errors import ActionError
from phasegate.kube import apply, crd_waves, manifests
from phasegate.kube.client import KubeClient
from phasegate.sandbox import SandboxInfo, connect
from phasegate.sandbox.api import wait_for
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import with_client, write_yaml
from tests.integration.public_material import public
from tests.integration.workflow_helpers import args

pytestmark = pytest.mark.cluster
BUNDLE = public("gateway-api-crds")
GROUP = "gateway.networking.k8s.io"
VAP = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"


@pytest.fixture
def no_gateway_api(cluster: SandboxInfo) -> Iterator[None]:
    """The Gateway API is cluster-wide: absent before the test (its kinds not served) and
    removed after it, with every Gateway API object the test made."""
    _remove_gateway_api(cluster)
    yield
    _remove_gateway_api(cluster)


def _remove_gateway_api(cluster: SandboxInfo) -> None:
    with connect(cluster) as api:
        crds = (api.get(crd_waves.CRD_PATH) or {}).get("items", [])
        ours = [c for c in crds if c["spec"]["group"] == GROUP]
        names = [c["metadata"]["name"] for c in ours]
        for crd in ours:
            # A CRD deleted while its storage is still initializing has its instance cleanup
            # fail ("storage is (re)initializing") and retried with a growing back-off for
            # minutes; wait until the watch cache lists its objects, so they can be cleaned up.
            version = next(v["name"] for v in crd["spec"]["versions"] if v.get("served"))
            listing = f"/apis/{GROUP}/{version}/{crd['spec']['names']['plural']}"
            wait_for(f"{crd['metadata']['name']} listable",
                     lambda path=listing: api.request(  # RV 0: from the watch cache
                         "GET", path, params={"resourceVersion": "0"}).status_code == 200,
                     timeout=60)
        for name in names:
            api.request("DELETE", f"{crd_waves.CRD_PATH}/{name}")
        api.request("DELETE", f"{VAP}/safe-upgrades.{GROUP}")
        api.request("DELETE", f"{VAP.replace('policies', 'policybindings')}/safe-upgrades.{GROUP}")
        wait_for("the Gateway API CRDs gone and no longer served",
                 lambda: not any(api.get(f"{crd_waves.CRD_PATH}/{n}") for n in names)
                 and api.get(f"/apis/{GROUP}/v1") is None, timeout=90)


RESOURCES = """\
apiVersion: v1
kind: Namespace
metadata: {name: "${input.namespace}"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: "pg-${input.namespace}"}
spec: {controllerName: phasegate.dev/no-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: "${input.namespace}"}
spec:
  gatewayClassName: "pg-${input.namespace}"
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: "${input.namespace}"}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: shop, port: PORT}]}]
"""

GATE = f"""\
    gate:
      - k8s.crd: {{name: httproutes.{GROUP}}}
      - k8s.exists: {{kind: Gateway, apiVersion: {GROUP}/v1, name: web}}
      - k8s.exists: {{kind: HTTPRoute, apiVersion: {GROUP}/v1, name: shop}}
    timeout: 1m
"""


def _plan(tmp_path: Path, phases: str, port: int = 8080) -> Path:
    (tmp_path / "gateway.yaml").write_text(RESOURCES.replace("PORT", str(port)))
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: gateway}\n"
                    "target: {context: phasegate-local, namespace: \"${input.namespace}\"}\n"
                    f"phases:\n{phases}")
    return plan


def test_one_phase_with_the_gateway_api_crds_and_their_resources_applies_and_gates(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str, no_gateway_api: None
) -> None:
    plan = _plan(tmp_path, f"  - name: gateway\n    apply: [{BUNDLE}, gateway.yaml]\n{GATE}")
    common = args(cluster, tmp_path, fresh_namespace)
    planned = phasegate("plan", str(plan), "--json", *common)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    objects = json.loads(planned.stdout)["preview"]["phases"][0]["objects"]
    later = {o["ref"]: o["note"] for o in objects if o["action"] == "deferred"}
    assert later == {
        f"GatewayClass pg-{fresh_namespace}": "created after its CRD in this phase",
        f"Gateway {fresh_namespace}/web": "created after its CRD in this phase",
        f"HTTPRoute {fresh_namespace}/shop": "created after its CRD in this phase",
    }

    applied = phasegate("apply", str(plan), "--approve", json.loads(planned.stdout)["plan_hash"],
                        "--json", *common, timeout=240)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    phase = json.loads(applied.stdout)["phases"][0]
    assert phase["status"] == "passed"
    for created in ("CustomResourceDefinition httproutes.gateway.networking.k8s.io created",
                    f"HTTPRoute {fresh_namespace}/shop created",
                    f"Gateway {fresh_namespace}/web created"):
        assert created in phase["detail"]


def test_resources_of_crds_from_an_earlier_phase_are_planned_approved_and_hashed(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str, no_gateway_api: None
) -> None:
    phases = (f"  - name: crds\n    apply: {BUNDLE}\n"
              f"  - name: routes\n    apply: gateway.yaml\n{GATE}")
    plan = _plan(tmp_path, phases)
    common = args(cluster, tmp_path, fresh_namespace)
    checked = phasegate("check", str(plan), *common[:-2])  # check writes no reports
    assert checked.returncode == 0, checked.stdout + checked.stderr  # no divergence: planned
    shown = phasegate("plan", str(plan), *common)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"HTTPRoute {fresh_namespace}/shop" in shown.stdout
    assert "created after phase 1" in shown.stdout

    planned = phasegate("plan", str(plan), "--json", *common)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    document = json.loads(planned.stdout)
    routes = document["preview"]["phases"][1]["objects"]
    assert {o["action"] for o in routes if o["ref"] != f"Namespace {fresh_namespace}"} == {
        "deferred"}
    assert {o["note"] for o in routes if o["action"] == "deferred"} == {"created after phase 1"}
    plan_hash = document["plan_hash"]

    _plan(tmp_path, phases, port=8081)  # a phase-2 manifest changes: so does the hash
    changed = phasegate("plan", str(plan), "--json", *common)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert json.loads(changed.stdout)["plan_hash"] != plan_hash
    _plan(tmp_path, phases)

    applied = phasegate("apply", str(plan), "--approve", plan_hash, "--json", *common,
                        timeout=240)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert [p["status"] for p in json.loads(applied.stdout)["phases"]] == ["passed", "passed"]
    with connect(cluster) as api:
        route = api.get(f"/apis/{GROUP}/v1/namespaces/{fresh_namespace}/httproutes/shop")
        assert route is not None and route["spec"]["rules"][0]["backendRefs"][0]["port"] == 8080


@pytest.mark.parametrize(
    ("api_version", "kind", "words"),
    [(f"{GROUP}/v1", "HTTPRoutes", "no CRD in this plan serves it"),
     ("widgets.example.com/v1", "Widget", "no CRD in this plan serves it")],
    ids=["kind-typo", "no-crd"],
)
def test_a_kind_no_crd_serves_is_refused_at_plan_naming_file_and_kind(
    cluster: SandboxInfo, tmp_path: Path, fresh_namespace: str, no_gateway_api: None,
    api_version: str, kind: str, words: str
) -> None:
    write_yaml(tmp_path / "odd.yaml", {"apiVersion": api_version, "kind": kind,
                                       "metadata": {"name": "odd"}})
    plan = _plan(tmp_path, f"  - name: crds\n    apply: {BUNDLE}\n"
                           "  - name: odd\n    apply: odd.yaml\n")
    planned = phasegate("plan", str(plan), *args(cluster, tmp_path, fresh_namespace))
    assert planned.returncode == 2, planned.stdout + planned.stderr
    said = " ".join((planned.stdout + planned.stderr).split())
    assert f"odd.yaml#1: {api_version} {kind} 'odd'" in said and words in said
    assert "Traceback" not in said

    checked = phasegate("check", str(plan), "--json",
                        *args(cluster, tmp_path, fresh_namespace)[:-2])
    assert checked.returncode == 1, checked.stdout + checked.stderr  # a HIGH divergence
    (divergence,) = json.loads(checked.stdout)["observations"][0]["data"]["divergences"]
    assert divergence["message"].startswith(
        f"no CRD in the cluster or the plan serves {api_version}/{kind} (in ")
    assert divergence["message"].endswith("odd.yaml#1)")


def test_apply_waits_for_each_crd_to_be_served_before_the_resources(
    cluster: SandboxInfo, namespace: str, tmp_path: Path, no_gateway_api: None
) -> None:
    (tmp_path / "gateway.yaml").write_text(
        RESOURCES.replace("PORT", "80").replace("${input.namespace}", namespace))
    loaded = manifests.load([str(BUNDLE), str(tmp_path / "gateway.yaml")], Path("/"))

    async def work(client: KubeClient) -> list[apply.Applied]:
        return await apply.apply_all(client, loaded, namespace)

    results = with_client(cluster, namespace, work)
    kinds = [r.live["kind"] for r in results]
    last_first_wave = max(i for i, k in enumerate(kinds) if k in crd_waves.FIRST_WAVE)
    assert kinds.count("CustomResourceDefinition") == 10
    assert all(k not in crd_waves.FIRST_WAVE for k in kinds[last_first_wave + 1:])
    assert {r.ref: r.action for r in results}[f"HTTPRoute {namespace}/shop"] == "created"


def test_a_crd_that_is_never_served_times_out_naming_it_and_what_it_waited_for(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    group = f"{namespace}.phasegate.dev"

    def crd(plural: str) -> dict[str, object]:  # both claim kind Widget: the second conflicts
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{group}"},
                "spec": {"group": group, "scope": "Namespaced",
                         "names": {"plural": plural, "kind": "Widget"},
                         "versions": [{"name": "v1", "served": True, "storage": True,
                                       "schema": {"openAPIV3Schema": {"type": "object"}}}]}}

    first = manifests.load([str(write_yaml(tmp_path / "a.yaml", crd("widgets")))], Path("/"))
    second = manifests.load([str(write_yaml(tmp_path / "b.yaml", crd("gizmos")))], Path("/"))

    async def work(client: KubeClient) -> None:
        await apply.apply_all(client, first, namespace)
        applied = await apply.apply_one(client, second[0], namespace)
        await crd_waves.until_served(client, [applied.live], timeout=2)

    try:
        with pytest.raises(ActionError) as raised:
            with_client(cluster, namespace, work)
    finally:
        with connect(cluster) as api:
            for plural in ("widgets", "gizmos"):
                api.request("DELETE", f"{crd_waves.CRD_PATH}/{plural}.{group}")
    message = str(raised.value)
    assert f"CRD gizmos.{group} not served within 2 s" in message
    assert "still waiting for the Established condition" in message
    assert "NamesAccepted=False (" in message and "KindConflict)" in message  # or ListKind…
