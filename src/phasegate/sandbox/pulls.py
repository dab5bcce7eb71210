"""Image pull verdicts, as a kubelet would reach them, and the pod marks KWOK acts on.

KWOK's stages cannot ask a registry, so the image puller (image_puller.py) asks for them and
marks each scheduled pod: ``sandbox.phasegate.dev/images`` is ``pulled`` or ``failed``,
and each container whose image could not be pulled gets
``pull.sandbox.phasegate.dev/<container>: <Reason>: <why>``. The stages in
harness/stages/ run a pod only once it is ``pulled`` and turn ``failed`` into
``ErrImagePull`` (then ``ImagePullBackOff``) with ``why`` in the waiting message.

The sandbox reaches one registry, its own (``127.0.0.1:PORT``, or ``localhost:PORT``);
it asks that one with phasegate's ``image`` probe. Any other host (Docker Hub for a
reference without one) is unreachable from here, as from an air-gapped kubelet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.probes import image
from phasegate.probes.base import ProbeContext
from phasegate.probes.oci import reference

VERDICT = "sandbox.phasegate.dev/images"
PULLED, FAILED = "pulled", "failed"
REASON_PREFIX = "pull.sandbox.phasegate.dev/"
STAGED = "phasegate.dev/fail"
ERR_IMAGE_PULL = "ErrImagePull"
INVALID_IMAGE_NAME = "InvalidImageName"
# A registry's "not found" is kept this long, so a Deployment's replicas share one
# lookup while an image pushed afterwards is seen on the next retry.
MISS_TTL = 2.0
NOT_FOUND = frozenset({"tag_not_found", "manifest_not_found", "repository_not_found"})
FOREVER = float("inf")
# Pods on the sandbox's real nodes (real_node.py) are pulled by containerd, for real.
REAL_NODE_PREFIX = "real-node-"

Json = dict[str, Any]


@dataclass(frozen=True)
class Pull:
    """One image's verdict: pulled, or the kubelet's reason and why it failed."""

    ok: bool
    reason: str = ""
    why: str = ""
    retry: bool = False  # may change later: the sandbox's registry said no, or failed
    keep: float = FOREVER  # seconds the verdict may be reused for another pod

    @property
    def mark(self) -> str:
        return f"{self.reason}: {self.why}"


@dataclass(frozen=True)
class Registry:
    """The one registry the sandbox reaches (``host`` None: started without one)."""

    host: str | None
    ca: Path | None = None

    def reaches(self, ref: reference.Reference) -> bool:
        if self.host is None:
            return False
        port = self.host.rpartition(":")[2]
        return ref.registry in (self.host, f"localhost:{port}")

    def unreachable(self, ref: reference.Reference) -> str:
        own = (
            f"it reaches only its own registry, {self.host}"
            if self.host
            else "it was started without a registry (--no-registry)"
        )
        return (
            f'failed to resolve reference "{ref}": {ref.api_host} is not reachable from the '
            f"phasegate sandbox ({own})"
        )


def staged(image_ref: str) -> Pull:
    return Pull(False, ERR_IMAGE_PULL,
                f'pull of "{image_ref}" fails on purpose: pod annotation {STAGED}=image-pull')


async def ask(image_ref: str, registry: Registry) -> Pull:
    """The verdict for one image reference, asking the sandbox's registry if it is its."""
    try:
        ref = reference.parse(image_ref)
    except reference.InvalidReference as exc:
        return Pull(False, INVALID_IMAGE_NAME,
                    f'Failed to apply default image tag "{image_ref}": couldn\'t parse image '
                    f'name "{image_ref}": invalid reference format ({exc})')
    if not registry.reaches(ref):
        return Pull(False, ERR_IMAGE_PULL, registry.unreachable(ref))
    params = image.ImageParams(ref=image_ref, ca=str(registry.ca) if registry.ca else None)
    verdict = await image.check(params, ProbeContext())
    if verdict.passed:
        return Pull(True)
    if verdict.data.get("outcome") in NOT_FOUND:
        why = f'failed to resolve reference "{ref}": {ref}: not found ({verdict.observed})'
        return Pull(False, ERR_IMAGE_PULL, why, retry=True, keep=MISS_TTL)
    why = f'failed to resolve reference "{ref}": {verdict.observed}'
    return Pull(False, ERR_IMAGE_PULL, why, retry=True, keep=0.0)


class Cache:
    """Verdicts per image reference, each for as long as it says (``Pull.keep``): a pulled
    image stays pulled, as on a node; a miss is asked again after MISS_TTL seconds."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Pull, float]] = {}

    def get(self, image_ref: str) -> Pull | None:
        found = self._seen.get(image_ref)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, image_ref: str, pull: Pull) -> None:
        if pull.keep > 0:
            self._seen[image_ref] = (pull, time.monotonic() + pull.keep)


def containers(pod: Json) -> list[Json]:
    """Init containers first, as a kubelet pulls them."""
    spec = pod.get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def needs_verdict(pod: Json) -> bool:
    meta = pod.get("metadata") or {}
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    return bool(
        node
        and not node.startswith(REAL_NODE_PREFIX)
        and not meta.get("deletionTimestamp")
        and VERDICT not in (meta.get("annotations") or {})
    )


def marks(pod: Json, pulls: dict[str, Pull]) -> Json:
    """The merge patch that records ``pulls`` (container name -> verdict) on ``pod``.

    It names the pod's uid, so a patch for a pod deleted and created again under the same
    name is refused instead of marking the new one.
    """
    old = (pod.get("metadata") or {}).get("annotations") or {}
    annotations: dict[str, str | None] = {
        key: None for key in old if key.startswith(REASON_PREFIX)
    }
    failed = {name: p for name, p in pulls.items() if not p.ok}
    annotations[VERDICT] = FAILED if failed else PULLED
    for name, pull in failed.items():
        annotations[REASON_PREFIX + name] = pull.mark
    return {"metadata": {"uid": pod["metadata"]["uid"], "annotations": annotations}}
