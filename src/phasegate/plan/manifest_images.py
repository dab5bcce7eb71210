"""Image references found in a plan's manifests, so ``check`` can ask whether they pull.

Pure: files in, references out. Looks wherever Kubernetes objects and common operators
keep images — ``containers``, ``initContainers``, ``ephemeralContainers`` (at any depth,
so Pods, Deployments, CronJobs and CRDs embedding a pod template are covered), any other
``image`` string (Prometheus, Strimzi, Argo, KubeVirt …), ``imageName`` (CloudNativePG),
and ``image: {registry, repository, tag|digest}`` mappings. ``${input.…}`` placeholders are
filled from the plan's inputs; Go/Helm templates (``{{…}}``) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.plan import manifest_files

_STRING_KEYS = ("image", "imageName")
_SKIPPED_KINDS = ("ConfigMap", "Secret")  # their data is text, not images to pull


@dataclass(frozen=True)
class FoundImage:
    ref: str
    file: Path
    path: str  # where in the object, e.g. Deployment/api spec.template.spec.containers[0].image


def apply_paths(plan: Any) -> list[str]:
    """The manifest paths a plan applies: its tracers' then its phases'."""
    paths: list[str] = []
    for step in [*plan.tracers, *plan.phases]:
        paths.extend(step.apply)
    return paths


def find(
    paths: list[str], base_dir: Path, inputs: dict[str, Any] | None = None
) -> list[FoundImage]:
    """Every image in the manifests under ``paths``, in file order, first occurrence kept.

    ``${input.…}`` placeholders are filled from ``inputs`` as the apply will fill them; a
    reference whose input is missing is skipped (the apply itself will say so).
    """
    seen: set[str] = set()
    found: list[FoundImage] = []
    for file in manifest_files.files(paths, base_dir):
        for raw in in_file(file):
            image = _substituted(raw, inputs or {})
            if image is not None and image.ref not in seen:
                seen.add(image.ref)
                found.append(image)
    return found


def in_file(file: Path) -> list[FoundImage]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        documents = list(YAML(typ="safe").load_all(file.read_text(encoding="utf-8")))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlanError(f"YAML syntax error: {getattr(exc, 'problem', exc)}", file=str(file),
                        line=mark.line + 1 if mark else None) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read manifest: {exc}", file=str(file)) from None
    return [FoundImage(ref, file, where) for doc in documents for ref, where in in_object(doc)]


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


