"""``image``: a reference resolves in its registry, as a pull would resolve it.

One ``HEAD /v2/<name>/manifests/<ref>`` with every manifest type accepted (a GET only
when HEAD is refused, or when ``platforms`` needs the index). A miss is followed by one
``tags/list`` request so the observation can say *tag* not found or *repository* not
found. The digest is recorded, with the reference pinned by it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
from pydantic import Field, field_validator

from phasegate.observation import Verdict
from phasegate.probes import capture
from phasegate.probes.base import ProbeContext, ProbeSpec
from phasegate.probes.oci import access, reference, transport

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
_KIND = {
    OCI_INDEX: "OCI index", OCI_MANIFEST: "OCI manifest",
    DOCKER_LIST: "Docker manifest list", DOCKER_MANIFEST: "Docker v2 manifest",
}
_MISSING = ("repository_not_found", "tag_not_found", "manifest_not_found", "not_found")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")


class ImageParams(access.RegistryAccess):
    ref: str = Field(description="host[:port]/repo:tag or …@sha256:…")
    platforms: list[str] = Field(
        default_factory=list, description="os/arch[/variant] the image must provide"
    )
    upstream: str | None = Field(
        None, description="the name the plan wrote, when ref is the mirror it is pulled from "
        "(target.imageMirrors); the observation names both",
    )

    @field_validator("ref")
    @classmethod
    def _reference(cls, value: str) -> str:
        reference.parse(value)  # InvalidReference is a ValueError: pydantic reports it
        return value

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str | None) -> str | None:
        if value is not None:
            reference.parse(value)
        return value

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: list[str]) -> list[str]:
        for platform in value:
            if not _PLATFORM.match(platform):
                raise ValueError(f"expected os/arch[/variant] like linux/amd64, got {platform!r}")
        return value

    def describe(self) -> str:
        return f"{self.upstream} via mirror {self.ref}" if self.upstream else self.ref

    def target(self, ctx: ProbeContext, registry: str) -> transport.Target:
        ca, auth_file = self.paths(ctx.base_dir)
        return transport.Target(
            registry, plain_http=self.plain_http, insecure=self.insecure, ca=ca,
            username=self.username, password=self.password, auth_file=auth_file,
            timeout=self.timeout,
        )


async def check(params: ImageParams, ctx: ProbeContext) -> Verdict:
    ref = reference.parse(params.ref)
    target = params.target(ctx, ref.registry)
    trace = transport.Trace()
    expected = f"{ref} resolves"
    if params.upstream:
        expected += f" (the mirror of {reference.parse(params.upstream)})"
    if params.platforms:
        expected += f" for {', '.join(params.platforms)}"
    try:
        verdict = await _resolve(params, ref, target, trace, expected)
    except transport.RegistryFailure as failure:
        verdict = Verdict(False, expected, failure.observed, detail=failure.detail,
                          fail_fast=failure.fail_fast,
                          data={"outcome": failure.outcome, **failure.data})
    if params.upstream and verdict.data.get("outcome") in _MISSING:
        verdict = Verdict(
            False, verdict.expected, f"{verdict.observed} (in the mirror)",
            detail=verdict.detail + "the plan's target.imageMirrors send this pull to the "
            "mirror: `phasegate images mirror PLAN` copies the image there\n",
            fail_fast=verdict.fail_fast, data=verdict.data)
    return _with_trace(verdict, params, trace)


async def _resolve(
    params: ImageParams, ref: reference.Reference, target: transport.Target,
    trace: transport.Trace, expected: str,
) -> Verdict:
    path = f"/v2/{ref.repository}/manifests/{ref.reference}"
    scope = f"repository:{ref.repository}:pull"
    # platforms need the manifest's body: GET at once rather than HEAD then GET
    method = "GET" if params.platforms else "HEAD"
    response = await transport.request(target, trace, method, path, scope=scope, accept=ACCEPT)
    if method == "HEAD" and response.status_code in (400, 405, 501):
        method = "GET"  # HEAD refused: ask again the long way
        response = await transport.request(target, trace, method, path, scope=scope, accept=ACCEPT)
    if response.status_code == 404:
        return await _not_found(ref, target, trace, expected, scope)
    if response.status_code != 200:
        raise transport.status_failure(response, target, trace, ref.repository)
    transport.seen_repository(target, ref.repository)
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    digest = response.headers.get("docker-content-digest", "")
    if not digest:  # some registries omit it on HEAD: the body's hash is the digest
        if method == "HEAD":
            response = await transport.request(target, trace, "GET", path, scope=scope,
                                               accept=ACCEPT)
        digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
    data: dict[str, Any] = {"outcome": "found", "digest": digest, "media_type": media_type}
    if ref.digest and digest != ref.digest:
        return Verdict(False, expected, f"digest mismatch: registry serves {digest}",
                       fail_fast=True, data={**data, "outcome": "digest_mismatch"})
    kind = _KIND.get(media_type, media_type or "unknown type")
    observed = f"found {digest} ({kind})"
    if params.platforms:
        offered = await _platforms(response, media_type, ref, target, trace, scope)
        data["platforms"] = offered
        missing = [p for p in params.platforms if not _offers(offered, p)]
        if missing:
            data["outcome"] = "platform_missing"
            return Verdict(
                False, expected,
                f"missing platform {', '.join(missing)} (offers {', '.join(offered) or 'none'})",
                fail_fast=True, data=data,
            )
        observed += f", platforms {', '.join(offered)}"
    detail = ""
    if not ref.digest:
        data["pinned"] = ref.pinned(digest)
        detail = f"pin by digest so the rollout pulls exactly this: {data['pinned']}\n"
    return Verdict(True, expected, observed, detail=detail, data=data)


async def _not_found(
    ref: reference.Reference, target: transport.Target, trace: transport.Trace, expected: str,
    scope: str,
) -> Verdict:
    """HEAD has no body to say why: ask whether the repository exists at all (unless another
    probe of this run already saw it serve a manifest)."""
    detail = f"HEAD /v2/{ref.repository}/manifests/{ref.reference} → 404\n"
    status, code = 200, ""
    if not transport.known_repository(target, ref.repository):
        listing = await transport.request(
            target, trace, "GET", f"/v2/{ref.repository}/tags/list", scope=scope,
            params={"n": "1"},
        )
        status, (code, _) = listing.status_code, transport.error_code(listing)
        detail += f"GET /v2/{ref.repository}/tags/list → {status} {code}\n"
    what = f"manifest {ref.digest}" if ref.digest else f"tag {ref.tag}"
    if status == 404 or code == "NAME_UNKNOWN":
        outcome, observed = "repository_not_found", f"repository not found: {ref.repository}"
    elif status == 200:
        transport.seen_repository(target, ref.repository)
        outcome = "manifest_not_found" if ref.digest else "tag_not_found"
        observed = f"{what.split()[0]} not found: {what.split()[1]} in {ref.repository}"
    else:
        outcome, observed = "not_found", f"not found: {what} (repository existence unknown)"
    return Verdict(False, expected, observed, detail=detail, fail_fast=True,
                   data={"outcome": outcome})


async def _platforms(
    response: httpx.Response, media_type: str, ref: reference.Reference,
    target: transport.Target, trace: transport.Trace, scope: str,
) -> list[str]:
    document = _json(response)
    if media_type in INDEX_TYPES:
        found = []
        for entry in document.get("manifests", []):
            platform = entry.get("platform") or {}
            if platform.get("os") and platform.get("architecture"):
                found.append(_platform_name(platform))
        return found
    config = (document.get("config") or {}).get("digest")
    if not config:
        return []
    blob = await transport.request(
        target, trace, "GET", f"/v2/{ref.repository}/blobs/{config}", scope=scope
    )
    if blob.status_code != 200:
        raise transport.status_failure(blob, target, trace, f"config blob {config}")
    return [_platform_name(_json(blob))]


def _platform_name(platform: dict[str, Any]) -> str:
    name = f"{platform.get('os')}/{platform.get('architecture')}"
    return f"{name}/{platform['variant']}" if platform.get("variant") else name


def _offers(offered: list[str], wanted: str) -> bool:
    """linux/arm64 is offered by linux/arm64/v8; linux/arm/v7 only by itself."""
    return any(p == wanted or p.startswith(wanted + "/") for p in offered)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        raise transport.RegistryFailure(
            "unexpected", f"registry answered non-JSON: {capture.excerpt(response.text, 120)}",
            fail_fast=False,
        ) from None
    return document if isinstance(document, dict) else {}


def _with_trace(verdict: Verdict, params: ImageParams, trace: transport.Trace) -> Verdict:
    """Every answer says what it cost and on what terms it was obtained."""
    findings = params.findings()
    names = {"upstream": str(reference.parse(params.upstream)), "mirror": str(
        reference.parse(params.ref))} if params.upstream else {}
    data = {
        **verdict.data, **names, "round_trips": trace.requests, "retries": trace.retries,
        "http_version": trace.http_version, "credentials": trace.credentials,
    }
    observed = verdict.observed
    if findings:
        data["findings"] = findings
        observed += f" [{'; '.join(findings)}]"
    notes = "".join(f"note: {note}\n" for note in trace.notes)
    detail = f"{verdict.detail}{notes}{trace.requests} request(s), {trace.http_version}\n"
    return Verdict(verdict.passed, verdict.expected, observed, detail=detail,
                   fail_fast=verdict.fail_fast, data=data)


PROBES = [
    ProbeSpec(
        "image", ImageParams, check,
        "an image reference resolves in its registry (OCI distribution API)",
        default_interval=5.0,
    )
]
