"""Where the cluster pulls an image from: ``target.imageMirrors``, as CRI-O and containerd read
their mirror lists.

A prefix is a registry (``docker.io``) or a registry and repository path
(``quay.io/prometheus``); it matches a reference whose ``registry/repository`` equals it or
continues it at a ``/`` (so ``docker.io/lib`` never matches ``docker.io/library/nginx``). The
longest matching prefix wins, and what follows it is appended to the mirror's location:
``nginx`` is ``docker.io/library/nginx``, so ``docker.io: mirror:5000/dockerhub`` sends it to
``mirror:5000/dockerhub/library/nginx``. Tags and digests are kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from phasegate.probes.oci import reference

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


@dataclass(frozen=True)
class Mirrored:
    """One reference as the plan wrote it and as the cluster will pull it."""

    upstream: reference.Reference
    mirror: reference.Reference
    prefix: str  # the imageMirrors key that matched


def parse_prefix(text: str) -> str:
    """An imageMirrors key, normalised (``index.docker.io`` is ``docker.io``), or
    InvalidReference saying what a prefix looks like."""
    host, path = _host_and_path(text, "prefix")
    return f"{host}/{path}" if path else host


def parse_location(text: str) -> str:
    """An imageMirrors value: ``host[:port][/path]``."""
    host, path = _host_and_path(text, "mirror")
    return f"{host}/{path}" if path else host


def normalised(mirrors: Mapping[str, str]) -> dict[str, str]:
    """Keys and values normalised; two spellings of one prefix are an error."""
    found: dict[str, str] = {}
    written: dict[str, str] = {}
    for key, value in mirrors.items():
        prefix = parse_prefix(key)
        if prefix in found:
            raise reference.InvalidReference(
                f"{key!r} and {written[prefix]!r} are the same prefix ({prefix}): keep one")
        found[prefix], written[prefix] = parse_location(value), key
    return found


def resolve(ref: reference.Reference, mirrors: Mapping[str, str]) -> Mirrored | None:
    """``ref`` rewritten by the longest matching prefix of ``mirrors`` (normalised keys), or
    None when no prefix matches and the cluster pulls it from where it is."""
    name = f"{ref.registry}/{ref.repository}"
    matching = [p for p in mirrors if name == p or name.startswith(p + "/")]
    if not matching:
        return None
    prefix = max(matching, key=len)
    rest = name[len(prefix):].lstrip("/")
    host, _, path = mirrors[prefix].partition("/")
    repository = "/".join(part for part in (path, rest) if part)
    if not repository:
        raise reference.InvalidReference(
            f"imageMirrors maps {prefix} to {host}, which leaves {ref} no repository name: "
            f"give the mirror a path (e.g. {host}/{ref.repository})")
    return Mirrored(ref, reference.Reference(host, repository, ref.tag, ref.digest), prefix)


def _host_and_path(text: str, what: str) -> tuple[str, str]:
    cleaned = text.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    first, _, path = cleaned.partition("/")
    if not ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        example = "docker.io/bitnami" if what == "prefix" else "registry.internal:5000/dockerhub"
        raise reference.InvalidReference(
            f"{what} {text!r} does not start with a registry host (a name with a dot or a "
            f"port, or localhost), e.g. {example}")
    host = reference.parse_registry(first)
    for component in path.split("/") if path else []:
        if not _COMPONENT.match(component):
            raise reference.InvalidReference(
                f"{what} {text!r}: {component!r} is not a repository path component "
                "(lowercase letters, digits and . _ - separators; no tag or digest)")
    return host, path
