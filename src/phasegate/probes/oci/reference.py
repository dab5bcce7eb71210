"""Image references as Docker writes them: ``[host[:port]/]repo[:tag][@digest]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$")


class InvalidReference(ValueError):
    pass


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port] as written, "docker.io" when none was
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """Where the registry API answers; Docker Hub's name is not its API host."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest wins over the tag, as in Docker."""
        return self.digest or self.tag or "latest"

    def pinned(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse(text: str) -> Reference:
    """Parse ``text`` the way ``docker pull`` would, or raise InvalidReference saying why."""
    if not text or text != text.strip():
        raise InvalidReference(f"expected a reference such as host:5000/repo:tag, got {text!r}")
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InvalidReference(f"invalid digest {digest!r}: expected algorithm:hex")
    registry, path = _split_registry(rest)
    tag: str | None = None
    last_slash = path.rfind("/")
    if ":" in path[last_slash + 1 :]:
        path, _, tag = path.rpartition(":")
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid tag {tag!r}")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"  # official images live under library/
    if not _REPOSITORY.match(path):
        raise InvalidReference(
            f"invalid repository {path!r}: lowercase letters, digits and . _ - separators"
        )
    if tag is None and not digest:
        tag = "latest"
    return Reference(registry, path, tag, digest or None)


def parse_registry(text: str) -> str:
    """A registry written alone (``host[:port]``), normalised like the host of a reference."""
    host = text.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    if host in ("index.docker.io", "registry-1.docker.io"):
        return DOCKER_HUB
    if not host or not _HOST.match(host):
        raise InvalidReference(f"expected a registry host[:port], got {text!r}")
    return host


def _split_registry(text: str) -> tuple[str, str]:
    first, slash, rest = text.partition("/")
    # Docker's rule: the first component names a registry only if it looks like a host
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        if not _HOST.match(first):
            raise InvalidReference(f"invalid registry host {first!r}")
        return parse_registry(first), rest
    return DOCKER_HUB, text
