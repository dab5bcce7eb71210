"""``k8s.dry_run``: would the API server accept these manifests? Its refusal, verbatim, and
its admission warnings (Pod Security, deprecations) are the evidence."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from phasegate.errors import ActionError
from phasegate.kube import apply, connections, manifests, sources
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe


class DryRunParams(ProbeParams):
    apply: sources.Sources = Field(
        description="manifest files or directories, or {kustomize: DIR}, relative to the plan")
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    no_warnings: bool = Field(False, description="also fail when the server warns")

    def describe(self) -> str:
        return sources.describe(self.apply)


async def check_dry_run(params: DryRunParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    inputs = ctx.extras.get("inputs") or {}
    loaded = manifests.load(params.apply, ctx.base_dir, inputs)
    expected = "every object accepted" + (" without warnings" if params.no_warnings else "")
    accepted: list[str] = []
    refused: list[str] = []
    warnings: list[str] = []
    for manifest in loaded:
        try:
            result = await apply.apply_one(client, manifest, namespace, dry_run=True)
        except ActionError as exc:
            refused.append(str(exc))
            continue
        accepted.append(result.ref)
        warnings += [f"{result.ref}: {w}" for w in result.warnings]
    data: dict[str, Any] = {"accepted": accepted, "refused": refused, "warnings": warnings}
    detail = "\n".join(["accepted: " + ", ".join(accepted)] + refused
                       + [f"warning: {w}" for w in warnings])
    if refused:
        return Verdict(False, expected, f"{len(refused)} refused: {refused[0]}", detail=detail,
                       fail_fast=True, data=data)
    observed = f"{len(accepted)} accepted" + (f", {len(warnings)} warning(s): {warnings[0]}"
                                              if warnings else "")
    passed = not (params.no_warnings and warnings)
    return Verdict(passed, expected, observed, detail=detail, data=data)


PROBES = [cluster_probe("k8s.dry_run", DryRunParams, check_dry_run,
                    "server-side apply dry-run: accepted, or the API's refusal; warnings kept")]
