"""Copy an image from one registry to another with the OCI distribution API, digests kept.

Blobs first (config and layers), then manifests, so a registry never holds a manifest whose
blobs it lacks; an index goes whole: every child manifest (with its blobs) before the index.
The manifests are sent as the exact bytes the source served, so every digest, the index's
included, is the source's. What the destination already holds is skipped: a manifest by
digest, a blob by ``HEAD``. Between repositories of one registry a blob is mounted
(``POST …/blobs/uploads/?mount=…&from=…``) instead of sent again. A blob streams through a
temporary file, never sitting in memory, and is checked against its digest before it is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from phasegate.probes.oci import reference, transport

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (
    OCI_INDEX, DOCKER_LIST, "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
BLOBS_IN_FLIGHT = 4  # per manifest: enough to overlap round trips, few temporary files


@dataclass
class Copy:
    """What one image's copy did (or, in a dry run, would do)."""

    source: str
    destination: str
    digest: str = ""
    media_type: str = ""
    manifests_copied: list[str] = field(default_factory=list)
    manifests_present: list[str] = field(default_factory=list)
    blobs_copied: list[str] = field(default_factory=list)
    blobs_mounted: list[str] = field(default_factory=list)
    blobs_present: list[str] = field(default_factory=list)
    bytes_copied: int = 0
    tagged: bool = False  # the tag was (or would be) pointed at the digest
    requests: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.manifests_copied or self.blobs_copied or self.blobs_mounted
                    or self.tagged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "destination": self.destination, "digest": self.digest,
            "media_type": self.media_type, "manifests_copied": self.manifests_copied,
            "manifests_present": self.manifests_present, "blobs_copied": self.blobs_copied,
            "blobs_mounted": self.blobs_mounted, "blobs_present": self.blobs_present,
            "bytes_copied": self.bytes_copied, "tagged": self.tagged,
            "round_trips": self.requests,
        }


class CopyFailure(Exception):
    """The copy could not be done; ``outcome`` names why (``source_not_found``, …)."""

    def __init__(self, outcome: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.outcome = outcome
        self.detail = detail


Progress = Callable[[str], None]


@dataclass(frozen=True)
class _Side:
    target: transport.Target
    repository: str
    scope: str


async def copy(
    source: reference.Reference, destination: reference.Reference, *,
    targets: Callable[[str], transport.Target], dry_run: bool = False,
    progress: Progress | None = None,
) -> Copy:
    """Copy ``source`` to ``destination`` (same tag or digest); ``targets`` gives the
    transport target of a registry. A dry run asks both registries and writes nothing."""
    done = Copy(str(source), str(destination))
    trace = transport.Trace()
    src_target, dst_target = targets(source.registry), targets(destination.registry)
    src = _Side(src_target, source.repository, f"repository:{source.repository}:pull")
    push = f"repository:{destination.repository}:pull,push"
    if src_target.base_url == dst_target.base_url and source.repository != destination.repository:
        push += f" {src.scope}"  # a mount reads the source repository in the same request
    dst = _Side(dst_target, destination.repository, push)
    job = _Job(src, dst, trace, done, dry_run, progress or (lambda _: None),
               mount=src_target.base_url == dst_target.base_url)
    try:
        await job.image(source, destination)
    except transport.RegistryFailure as failure:
        raise CopyFailure(failure.outcome, failure.observed, failure.detail) from None
    finally:
        done.requests = trace.requests
    return done


@dataclass
class _Job:
    src: _Side
    dst: _Side
    trace: transport.Trace
    done: Copy
    dry_run: bool
    say: Progress
    mount: bool

    async def image(self, source: reference.Reference, destination: reference.Reference) -> None:
        body, media_type, digest = await self._source_manifest(source.reference, top=source)
        self.done.digest, self.done.media_type = digest, media_type
        tag = destination.tag if not destination.digest else None
        if await self._present(digest):
            self.done.manifests_present.append(digest)
            if tag is None or await self._tag_points_at(tag, digest):
                return
            await self._put_manifest(tag, body, media_type)
            self.done.tagged = True
            return
        await self._manifest_tree(body, media_type, digest)
        if tag is not None:
            await self._put_manifest(tag, body, media_type)
            self.done.tagged = True

    async def _manifest_tree(self, body: bytes, media_type: str, digest: str) -> None:
        """Everything ``body`` refers to, then ``body`` itself by digest."""
        document = _json(body, digest)
        if media_type in INDEX_TYPES:
            for child in document.get("manifests") or []:
                child_digest = str(child.get("digest", ""))
                if await self._present(child_digest):
                    self.done.manifests_present.append(child_digest)
                    continue
                child_body, child_type, _ = await self._source_manifest(child_digest)
                await self._manifest_tree(child_body, child_type, child_digest)
        else:
            blobs = [document.get("config") or {}, *(document.get("layers") or [])]
            slots = asyncio.Semaphore(BLOBS_IN_FLIGHT)

            async def one(blob: dict[str, Any]) -> None:
                async with slots:
                    await self._blob(str(blob.get("digest", "")), int(blob.get("size") or 0))

            await asyncio.gather(*(one(b) for b in blobs if b.get("digest")))
        await self._put_manifest(digest, body, media_type)
        self.done.manifests_copied.append(digest)

    async def _source_manifest(
        self, ref: str, top: reference.Reference | None = None
    ) -> tuple[bytes, str, str]:
        path = f"/v2/{self.src.repository}/manifests/{ref}"
        response = await transport.request(self.src.target, self.trace, "GET", path,
                                           scope=self.src.scope, accept=ACCEPT)
        if response.status_code == 404:
            shown = str(top) if top else f"{self.src.target.registry}/{self.src.repository}@{ref}"
            raise CopyFailure("source_not_found", f"source image not found: {shown} "
                              f"({self.src.target.registry} answered 404 for its manifest)")
        if response.status_code != 200:
            raise transport.status_failure(response, self.src.target, self.trace,
                                           f"{self.src.repository} manifest {ref}")
        body = response.content
        digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
        expected = ref if ref.startswith("sha256:") else None
        if expected and digest != expected:
            raise CopyFailure("digest_mismatch", f"the source served {digest} for {ref}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            media_type = str(_json(body, digest).get("mediaType") or media_type)
        return body, media_type, digest

    async def _present(self, digest: str) -> bool:
        response = await self._dst("HEAD", f"manifests/{digest}", accept=ACCEPT)
        return response.status_code == 200

    async def _tag_points_at(self, tag: str, digest: str) -> bool:
        response = await self._dst("HEAD", f"manifests/{tag}", accept=ACCEPT)
        return response.status_code == 200 and (
            response.headers.get("docker-content-digest") == digest)

    async def _put_manifest(self, ref: str, body: bytes, media_type: str) -> None:
        if self.dry_run:
            return
        response = await self._dst("PUT", f"manifests/{ref}", content=body,
                                   content_type=media_type)
        if response.status_code not in (200, 201):
            raise transport.status_failure(response, self.dst.target, self.trace,
                                           f"{self.dst.repository} manifest {ref}")
        self.say(f"manifest {ref} → {self.done.destination}")

    async def _blob(self, digest: str, size: int) -> None:
        head = await self._dst("HEAD", f"blobs/{digest}")
        if head.status_code == 200 or head.status_code in transport.REDIRECTS:  # in a store
            self.done.blobs_present.append(digest)
            return
        if self.dry_run:
            self.done.blobs_copied.append(digest)
            self.done.bytes_copied += size
            return
        location = None
        if self.mount:
            started = await self._dst("POST", "blobs/uploads/",
                                      params={"mount": digest, "from": self.src.repository})
            if started.status_code == 201:
                self.done.blobs_mounted.append(digest)
                self.say(f"blob {digest[:19]} mounted from {self.src.repository}")
                return
            location = self._location(started)
        with tempfile.TemporaryDirectory(prefix="phasegate-blob-") as scratch:
            file = Path(scratch) / "blob"
            with file.open("wb") as into:
                got, length = await transport.download(
                    self.src.target, self.trace, f"/v2/{self.src.repository}/blobs/{digest}",
                    scope=self.src.scope, into=into, what=f"blob {digest}")
            if got != digest:
                raise CopyFailure("digest_mismatch",
                                  f"blob {digest} of {self.src.repository} arrived as {got}")
            if location is None:
                location = self._location(await self._dst("POST", "blobs/uploads/"))
            url = httpx.URL(location).copy_merge_params({"digest": digest})
            response = await transport.request(
                self.dst.target, self.trace, "PUT", str(url), scope=self.dst.scope,
                content=file, content_type="application/octet-stream")
        if response.status_code not in (201, 204):
            raise transport.status_failure(response, self.dst.target, self.trace,
                                           f"upload of blob {digest}")
        self.done.blobs_copied.append(digest)
        self.done.bytes_copied += length
        self.say(f"blob {digest[:19]} copied ({size_text(length)})")

    def _location(self, started: httpx.Response) -> str:
        if started.status_code != 202 or not started.headers.get("location"):
            raise transport.status_failure(started, self.dst.target, self.trace,
                                           f"an upload to {self.dst.repository}")
        location = started.headers["location"]
        if location.startswith("/"):
            location = f"{self.dst.target.base_url}{location}"
        return location

    async def _dst(
        self, method: str, rest: str, *, accept: str | None = None,
        params: dict[str, str] | None = None, content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        path = f"/v2/{self.dst.repository}/{rest}"
        return await transport.request(self.dst.target, self.trace, method, path,
                                       scope=self.dst.scope, accept=accept, params=params,
                                       content=content, content_type=content_type)


def _json(body: bytes, digest: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        raise CopyFailure("unexpected", f"manifest {digest} is not JSON") from None
    return document if isinstance(document, dict) else {}


def size_text(length: int) -> str:
    if length < 1000:
        return f"{length} B"
    value = float(length)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
