"""Image references found in a plan's manifests, so ``check`` can ask whether they pull.

Pure: rendered documents in, references out. Looks wherever Kubernetes objects and common operators
keep images — ``containers``, ``initContainers``, ``ephemeralContainers`` (at any depth,
so Pods, Deployments, CronJobs and CRDs embedding a pod template are covered), any other
``image`` string (Prometheus, Strimzi, Argo, KubeVirt …), ``imageName`` (CloudNativePG),
and ``image: {registry, repository, tag|digest}`` mappings. ``${input.…}`` placeholders are
filled from the plan's inputs; Go/Helm templates (``{{…}}``) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.kube import manifests
from phasegate.kube import sources as kube_sources

_STRING_KEYS = ("image", "imageName")
_SKIPPED_KINDS = ("ConfigMap", "Secret")  # their data is text, not images to pull


@dataclass(frozen=True)
class FoundImage:
    ref: str
    file: Path  # the manifest file, or the directory a source rendered
    path: str  # where in the object, e.g. Deployment/api spec.template.spec.containers[0].image


def apply_paths(plan: Any) -> list[kube_sources.Source]:
    """What a plan applies: its tracers' sources then its phases'."""
    paths: list[kube_sources.Source] = []
    for step in [*plan.tracers, *plan.phases]:
        paths.extend(step.apply)
    return paths


def find(
    paths: Sequence[kube_sources.Source], base_dir: Path, inputs: dict[str, Any] | None = None
) -> list[FoundImage]:
    """Every image in the objects ``paths`` render (``kube.manifests``, the one reading of
    them), in document order, first occurrence kept.

    ``${input.…}`` placeholders are filled from ``inputs`` as the apply will fill them; a
    reference whose input is missing is skipped (the apply itself will say so).
    """
    seen: set[str] = set()
    found: list[FoundImage] = []
    for document in manifests.documents(paths, base_dir):
        file = Path(document.source.rsplit("#", 1)[0])
        for ref, where in in_object(document.data):
            image = _substituted(FoundImage(ref, file, where), inputs or {})
            if image is not None and image.ref not in seen:
                seen.add(image.ref)
                found.append(image)
    return found


def in_object(document: Any) -> list[tuple[str, str]]:
    """(reference, where) for every image in one parsed document (a List expands)."""
    if not isinstance(document, dict):
        return []
    if document.get("kind") in _SKIPPED_KINDS:
        return []
    name = f"{document.get('kind', '?')}/{(document.get('metadata') or {}).get('name', '?')}"
    return [(ref, f"{name} {where}") for ref, where in _walk(document, "") if _usable(ref)]


def _walk(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{where}[{index}]")
        return
    if not isinstance(node, dict):
        return
    if node.get("kind") and where and "apiVersion" in node:  # an object in a List
        yield from ((ref, f"{where} {inner}") for ref, inner in in_object(node))
        return
    for key, value in node.items():
        here = f"{where}.{key}" if where else str(key)
        if key == "metadata" and not where:
            continue  # labels and annotations are not images
        if key in _STRING_KEYS and isinstance(value, str):
            yield value.strip(), here
        elif key == "image" and isinstance(value, dict) and "repository" in value:
            yield _from_parts(value), here
        else:
            yield from _walk(value, here)


def _substituted(image: FoundImage, inputs: dict[str, Any]) -> FoundImage | None:
    from phasegate.plan import inputs as plan_inputs

    if "${" not in image.ref:
        return image
    try:
        ref = str(plan_inputs.substitute(image.ref, inputs))
    except plan_inputs.MissingInput:
        return None
    return FoundImage(ref, image.file, image.path) if _usable(ref) else None


def _from_parts(parts: dict[str, Any]) -> str:
    """``{registry: r, repository: a/b, tag: t}`` (Helm-style) → ``r/a/b:t``."""
    ref = str(parts["repository"])
    if parts.get("registry"):
        ref = f"{parts['registry']}/{ref}"
    if parts.get("digest"):
        return f"{ref}@{parts['digest']}"
    return f"{ref}:{parts['tag']}" if parts.get("tag") else ref


def _usable(ref: str) -> bool:
    return bool(ref) and "{{" not in ref and not any(c.isspace() for c in ref)


