"""``helm.chart``: a Helm chart resolves (a local path, a repository's index, an OCI
manifest) and renders with its values, and the cluster serves every API its objects use.
Stage R asks it for every helm phase; the images the rendered objects pull are checked
beside it as image assumptions."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import yaml
from pydantic import Field, model_validator

from phasegate.errors import ActionError
from phasegate.kube import connections, helm
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe
from phasegate.probes.oci import transport


class ChartParams(ProbeParams):
    release: str
    chart: str | None = Field(None, description="the chart's name (with repo or oci)")
    version: str | None = None
    repo: str | None = Field(None, description="a chart repository URL")
    oci: str | None = Field(None, description="oci://registry/path the chart is pushed under")
    path: str | None = Field(None, description="a chart directory or .tgz, relative to the plan")
    values: list[str] = Field(default_factory=list, description="values files")
    set: dict[str, Any] = Field(default_factory=dict, description="values by dotted path")
    namespace: str | None = Field(None, description="default: the plan's target namespace")

    @model_validator(mode="after")
    def _secrets(self) -> ChartParams:
        helm.register_secrets(self.set, self.repo)
        for key in self.set:
            helm.set_path(str(key))  # ValueError: a key helm's --set would misread
        return self

    def describe(self) -> str:
        return f"chart of release {self.release}"


def release_of(params: ChartParams, ctx: ProbeContext) -> helm.Release:
    return helm.release(params.release, connections.namespace_of(ctx, params.namespace),
                        ctx.base_dir, chart=params.chart, version=params.version,
                        repo=params.repo, oci=params.oci, path=params.path,
                        values=params.values, set=params.set,
                        oci_ca=registry_ca(params.oci))


def registry_ca(oci: str | None) -> str | None:
    """The CA the image probes trust for an ``oci://`` chart's registry (its certs.d
    directory, as Docker, containerd and podman keep it): charts and images from one
    registry are trusted alike. None when the system store is all there is."""
    if not oci:
        return None
    found = transport.certs_d(oci.removeprefix("oci://").split("/", 1)[0])
    return str(found[0]) if found else None


async def check_chart(params: ChartParams, ctx: ProbeContext) -> Verdict:
    release = release_of(params, ctx)
    expected = f"{release.chart.shown} renders and its APIs are served"
    try:
        run = helm.Helm(helm.find_binary(), None, None)
        text = await asyncio.to_thread(run.render, release)
    except ActionError as exc:
        return Verdict(False, expected, f"does not render: {exc}")
    objects = [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc.get("kind")]
    client = connections.client_for(ctx)
    client.forget_discovery()  # a CRD an earlier phase installed must be seen
    missing = []
    for api_version, kind in sorted({(str(o.get("apiVersion")), str(o["kind"])) for o in objects}):
        served = await client.resources(api_version)
        if not any(resource.kind == kind for resource in served):
            missing.append(f"{api_version}/{kind}")
    kinds = Counter(str(o["kind"]) for o in objects)
    rendered = f"{len(objects)} objects (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")"
    data = {"objects": [f"{o['kind']}/{(o.get('metadata') or {}).get('name')}" for o in objects]}
    if missing:
        return Verdict(False, expected, f"renders {rendered}; not served: {', '.join(missing)}",
                       data=data)
    return Verdict(True, expected, f"renders {rendered}, every API served", data=data)


PROBES = [
    cluster_probe("helm.chart", ChartParams, check_chart,
                  "a Helm chart resolves and renders, and the cluster serves its APIs"),
]
