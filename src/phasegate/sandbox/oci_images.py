"""OCI image layouts built byte by byte: tiny, deterministic images for skopeo to push.

An image here is one file (``hello.txt``) in one gzip layer, with a config naming its
platform; several platforms make an index. The same arguments always give the same
bytes, hence the same digests. The sandbox's registry is seeded from such layouts, and
the registry tests build theirs with the same code.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

Descriptor = dict[str, Any]


@dataclass(frozen=True)
class Built:
    layout: Path
    tag: str
    digest: str  # of what the tag points at: the manifest, or the index of a multi-arch image
    media_type: str


def build(layout: Path, tag: str, platforms: list[str], content: str = "phasegate") -> Built:
    """An image for ``platforms`` (``os/arch``); several make an index. Adds to ``layout``."""
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    manifests = [_image(layout, platform, f"{content} {tag} {platform}") for platform in platforms]
    if len(manifests) == 1:
        top, media_type = manifests[0], OCI_MANIFEST
    else:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        top, media_type = _blob(layout, _json(index), OCI_INDEX), OCI_INDEX
    top = {k: v for k, v in top.items() if k != "platform"}
    _tag(layout, tag, top)
    return Built(layout, tag, str(top["digest"]), media_type)


def build_image(
    layout: Path, tag: str, layer: bytes, diff: bytes, process: dict[str, Any]
) -> Built:
    """A linux/amd64 image of one gzip ``layer`` (``diff``: its uncompressed tar) whose
    config runs ``process`` (Entrypoint, Cmd, Env, ...); adds ``tag`` to ``layout``."""
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    layer_descriptor = _blob(layout, layer, OCI_LAYER)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(diff).hexdigest()]},
        "config": process,
    }
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": _blob(layout, _json(config), OCI_CONFIG), "layers": [layer_descriptor]}
    top = _blob(layout, _json(manifest), OCI_MANIFEST)
    _tag(layout, tag, top)
    return Built(layout, tag, str(top["digest"]), OCI_MANIFEST)


def _tag(layout: Path, tag: str, descriptor: Descriptor) -> None:
    top = {**descriptor, "annotations": {REF_NAME: tag}}
    index_path = layout / "index.json"
    existing = json.loads(index_path.read_text()) if index_path.exists() else {"manifests": []}
    kept = [m for m in existing["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag]
    index_path.write_text(json.dumps({"schemaVersion": 2, "manifests": [*kept, top]}))


def _image(layout: Path, platform: str, content: str) -> Descriptor:
    os_name, arch = platform.split("/")[:2]
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        data = content.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(data), 0
        archive.addfile(info, io.BytesIO(data))
    raw = tar.getvalue()
    layer = _blob(layout, gzip.compress(raw, mtime=0), OCI_LAYER)
    config = _blob(
        layout,
        _json(
            {
                "architecture": arch,
                "os": os_name,
                "rootfs": {
                    "type": "layers",
                    "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()],
                },
                "config": {},
            }
        ),
        OCI_CONFIG,
    )
    manifest = _blob(
        layout,
        _json(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        ),
        OCI_MANIFEST,
    )
    manifest["platform"] = {"os": os_name, "architecture": arch}
    return manifest


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def _blob(layout: Path, data: bytes, media_type: str) -> Descriptor:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}
