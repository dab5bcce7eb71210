"""``k8s.schema``: manifests validated offline against the Kubernetes OpenAPI schemas of a
given version (the schemas ship with the ``kubernetes-validate`` package). No cluster needed:
the probe of the ``contract`` level."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from phasegate.kube import manifests, sources
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec

DEFAULT_VERSION = "1.35"


class SchemaParams(ProbeParams):
    apply: sources.Sources = Field(description="manifest files or directories, or {kustomize: DIR}")
    version: str = Field(DEFAULT_VERSION, description="Kubernetes version to validate against")
    strict: bool = Field(True, description="unknown fields are errors (as the API server's "
                         "strict field validation)")

    def describe(self) -> str:
        return f"{sources.describe(self.apply)} against Kubernetes {self.version}"


async def check_schema(params: SchemaParams, ctx: ProbeContext) -> Verdict:
    loaded = manifests.load(params.apply, ctx.base_dir, ctx.extras.get("inputs") or {})
    # the schemas are large JSON files: validate off the event loop
    results = await asyncio.to_thread(_validate_all, loaded, params.version, params.strict)
    invalid = [r for r in results if r["verdict"] == "invalid"]
    unknown = [r for r in results if r["verdict"] == "no schema"]
    expected = f"every manifest valid for Kubernetes {params.version}"
    observed = f"{len(results) - len(invalid) - len(unknown)} valid"
    if unknown:
        observed += f", {len(unknown)} custom (no built-in schema)"
    if invalid:
        observed = f"{len(invalid)} invalid: {invalid[0]['object']}: {invalid[0]['message']}"
    detail = "\n".join(f"{r['object']} ({r['source']}): {r['verdict']}"
                       + (f" — {r['message']}" if r["message"] else "") for r in results)
    return Verdict(not invalid, expected, observed, detail=detail, fail_fast=bool(invalid),
                   data={"results": results})


def _validate_all(loaded: list[manifests.Manifest], version: str,
                  strict: bool) -> list[dict[str, Any]]:
    import kubernetes_validate

    results = []
    for manifest in loaded:
        ref = f"{manifest.kind} {manifest.name}"
        entry = {"object": ref, "source": manifest.source, "verdict": "valid", "message": ""}
        try:
            kubernetes_validate.validate(manifest.obj, version, strict=strict)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            entry.update(verdict="invalid", message=f"{where}: {exc.message}" if where
                         else str(exc.message))
        except kubernetes_validate.SchemaNotFoundError:
            group = str(manifest.obj["apiVersion"]).rpartition("/")[0]
            if not group or group.endswith(".k8s.io") or "." not in group:
                entry.update(verdict="invalid", message=f"{manifest.obj['apiVersion']}/"
                             f"{manifest.kind} does not exist in Kubernetes {version}")
            else:
                entry.update(verdict="no schema", message="custom resource")
        except kubernetes_validate.InvalidSchemaError as exc:
            entry.update(verdict="invalid", message=str(exc))
        results.append(entry)
    return results


PROBES = [ProbeSpec("k8s.schema", SchemaParams, check_schema,
                    "manifests valid against Kubernetes' schemas, offline (no cluster)")]
