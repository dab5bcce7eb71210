"""``registry.catalog``: repositories and tags present in a registry.

The "all 9 images confirmed in the catalog" check after a rebuild. Unlike ``image``, a
missing tag here is not fail-fast: this probe is the one a gate waits on while pushes land.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from pydantic import Field, field_validator

from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeSpec
from phasegate.probes.oci import access, reference, transport

_PAGE = 1000
_MAX_PAGES = 100  # a catalog beyond 100 000 repositories is not one to list in a gate


class CatalogParams(access.RegistryAccess):
    registry: str = Field(description="host[:port] of the registry")
    repositories: list[str] = Field(default_factory=list, description="must all be listed")
    tags: dict[str, list[str]] = Field(
        default_factory=dict, description="repository → tags that must all be present"
    )

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        reference.parse_registry(value)
        return value

    def describe(self) -> str:
        return self.registry


async def check(params: CatalogParams, ctx: ProbeContext) -> Verdict:
    registry = reference.parse_registry(params.registry)
    ca, auth_file = params.paths(ctx.base_dir)
    target = transport.Target(
        registry, plain_http=params.plain_http, insecure=params.insecure, ca=ca,
        username=params.username, password=params.password, auth_file=auth_file,
        timeout=params.timeout,
    )
    trace = transport.Trace()
    expected = _expectation(params)
    try:
        listed = await _catalog(target, trace) if params.repositories or not params.tags else None
        tag_lists = await asyncio.gather(
            *(_tags(target, trace, repo) for repo in params.tags)
        )
    except transport.RegistryFailure as failure:
        return Verdict(False, expected, failure.observed, detail=failure.detail,
                       fail_fast=failure.fail_fast,
                       data={"outcome": failure.outcome, **failure.data,
                             "round_trips": trace.requests})
    missing: list[str] = []
    if listed is not None:
        missing += [f"{repo} (repository)" for repo in params.repositories if repo not in listed]
    present_tags: dict[str, list[str] | None] = dict(zip(params.tags, tag_lists, strict=True))
    for repo, wanted in params.tags.items():
        have = present_tags[repo]
        if have is None:
            missing.append(f"{repo} (repository)")
        else:
            missing += [f"{repo}:{tag}" for tag in wanted if tag not in have]
    wanted_count = len(params.repositories) + sum(len(t) for t in params.tags.values())
    data: dict[str, Any] = {
        "missing": missing, "round_trips": trace.requests, "findings": params.findings(),
        "tags": {repo: sorted(tags) if tags is not None else None
                 for repo, tags in present_tags.items()},
    }
    if listed is not None:
        data["repositories"] = len(listed)
    if missing:
        observed = f"missing {len(missing)} of {wanted_count}: {', '.join(missing[:20])}"
    else:
        seen = f"{len(listed)} repositories listed" if listed is not None else "tags listed"
        observed = f"all {wanted_count} present ({seen})"
    return Verdict(not missing, expected, observed, data=data)


async def _catalog(target: transport.Target, trace: transport.Trace) -> set[str]:
    found: set[str] = set()
    query: dict[str, str] | None = {"n": str(_PAGE)}
    path = "/v2/_catalog"
    for _ in range(_MAX_PAGES):
        response = await transport.request(
            target, trace, "GET", path, scope="registry:catalog:*", params=query
        )
        if response.status_code != 200:
            raise transport.status_failure(response, target, trace, "the catalog")
        found.update(_list(response, "repositories"))
        following = _next_link(response)
        if following is None:
            break
        path, query = following, None
    return found


async def _tags(target: transport.Target, trace: transport.Trace, repo: str) -> list[str] | None:
    """The repository's tags, or None when it does not exist."""
    found: list[str] = []
    query: dict[str, str] | None = {"n": str(_PAGE)}
    path = f"/v2/{repo}/tags/list"
    for _ in range(_MAX_PAGES):
        response = await transport.request(
            target, trace, "GET", path, scope=f"repository:{repo}:pull", params=query
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise transport.status_failure(response, target, trace, repo)
        found += _list(response, "tags")
        following = _next_link(response)
        if following is None:
            break
        path, query = following, None
    return found


def _list(response: httpx.Response, key: str) -> list[str]:
    try:
        values = response.json().get(key) or []
    except (ValueError, AttributeError):
        return []
    return [str(value) for value in values]


def _next_link(response: httpx.Response) -> str | None:
    """The ``Link: </v2/_catalog?last=…&n=…>; rel="next"`` of a paginated answer."""
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', response.headers.get("link", ""))
    if match is None:
        return None
    url = httpx.URL(match.group(1))
    return f"{url.path}?{url.query.decode()}" if url.query else url.path


def _expectation(params: CatalogParams) -> str:
    parts = []
    if params.repositories:
        parts.append(f"repositories {', '.join(params.repositories)}")
    parts += [f"{repo}:{{{', '.join(tags)}}}" for repo, tags in params.tags.items()]
    return f"{params.registry} lists " + ("; ".join(parts) if parts else "its catalog")


PROBES = [
    ProbeSpec(
        "registry.catalog", CatalogParams, check,
        "repositories and tags present in a registry", default_interval=5.0,
    )
]
