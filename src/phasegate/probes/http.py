"""``http``: a request whose status, body, JSON fields and headers must match."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from phasegate import fields, net_errors, secrets
from phasegate.observation import Verdict
from phasegate.probes import capture, http_clients, jsonpath
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec

_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|password", re.IGNORECASE)


class HttpParams(ProbeParams):
    url: str = Field(description="http:// or https:// URL")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    status: int | list[int] = Field(200, description="expected status code, or any of a list")
    body: str | None = Field(None, description="regex the response body must match")
    json_equals: dict[str, Any] = Field(
        default_factory=dict, alias="json", description="JSON path → expected value"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="request headers")
    response_headers: dict[str, str] = Field(
        default_factory=dict, description="response header → regex it must match"
    )
    data: str | None = Field(None, description="request body")
    verify: bool = Field(True, description="verify TLS certificates")
    ca: str | None = Field(None, description="CA bundle file to verify against")
    timeout: fields.Seconds = Field(10.0, description="seconds for the whole request")
    follow_redirects: bool = False

    @field_validator("url")
    @classmethod
    def _register_url_credentials(cls, value: str) -> str:
        secrets.register_url(value)
        return value

    @field_validator("headers")
    @classmethod
    def _register_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            if _SECRET_HEADER.search(name):
                secrets.register(header_value)
                # "Bearer abc": the credential alone may appear elsewhere too
                secrets.register(header_value.split(" ", 1)[-1])
        return value

    @field_validator("json_equals")
    @classmethod
    def _paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path in value:
            jsonpath.parse(path)
        return value

    def describe(self) -> str:
        return f"{self.method} {self.url}"

    def expected_statuses(self) -> list[int]:
        return self.status if isinstance(self.status, list) else [self.status]


_CONTEXTS: dict[tuple[str, int, int], ssl.SSLContext] = {}
_MAX_CONTEXTS = 64


def ssl_context(params: HttpParams, ctx: ProbeContext) -> ssl.SSLContext | bool:
    """The TLS context of a request: one per CA file as the file is now (a replaced file is
    read again), one for the default CAs. Building one per request (httpx does, unless
    given one) cost 30 ms of CPU each, most of a 500-probe health check's time."""
    if not params.verify:
        return False
    if params.ca:
        path = ctx.base_dir / params.ca
        try:
            seen = path.stat()
        except OSError:  # the context's own error says what is wrong with the file
            return ssl.create_default_context(cafile=str(path))
        key = (str(path), seen.st_mtime_ns, seen.st_size)
    else:
        key = ("", 0, 0)
    found = _CONTEXTS.get(key)
    if found is None:
        found = (ssl.create_default_context(cafile=key[0]) if params.ca
                 else httpx.create_ssl_context())
        if len(_CONTEXTS) >= _MAX_CONTEXTS:
            _CONTEXTS.clear()
        _CONTEXTS[key] = found
    return found


_URLS: dict[str, httpx.URL] = {}
_MAX_URLS = 4096


def parsed(url: str) -> httpx.URL:
    """``url`` parsed once for every ask of it (httpx parses a string each time, in Python:
    a twentieth of an ask's CPU). An httpx.URL never changes."""
    found = _URLS.get(url)
    if found is None:
        found = httpx.URL(url)
        if len(_URLS) >= _MAX_URLS:
            _URLS.clear()
        _URLS[url] = found
    return found


async def check(params: HttpParams, ctx: ProbeContext) -> Verdict:
    expected = _expectation(params)
    verify = ssl_context(params, ctx)
    try:
        # httpx's timeout bounds each read, not the request: a server trickling a byte a
        # second would never trip it, so the whole exchange runs under one deadline.
        async with asyncio.timeout(params.timeout), http_clients.client_for(
            verify, params.follow_redirects
        ) as client:
            response = await client.request(
                params.method, parsed(params.url), headers=params.headers, content=params.data,
                timeout=params.timeout, follow_redirects=params.follow_redirects,
            )
    except TimeoutError:
        return Verdict(False, expected, f"timed out after {params.timeout:g} s")
    except httpx.HTTPError as exc:
        return Verdict(False, expected, net_errors.describe_transport_error(exc))
    body = response.text
    problems = _problems(params, response, body)
    observed = "; ".join(problems) if problems else f"status {response.status_code}"
    detail = f"{params.method} {params.url} → {response.status_code} {response.reason_phrase}\n"
    detail += capture.cap(body, 8 * 1024)
    data = {"status": response.status_code, "elapsed_ms": response.elapsed.total_seconds() * 1e3}
    return Verdict(not problems, expected, observed, detail=detail, data=data)


def _problems(params: HttpParams, response: httpx.Response, body: str) -> list[str]:
    problems: list[str] = []
    if response.status_code not in params.expected_statuses():
        problems.append(f"status {response.status_code}")
    if params.body and not re.search(params.body, body, re.MULTILINE):
        problems.append(f"body does not match /{params.body}/: {capture.excerpt(body, 120)!r}")
    if params.json_equals:
        problems.extend(_json_problems(params.json_equals, body))
    for header, pattern in params.response_headers.items():
        actual = response.headers.get(header)
        if actual is None or not re.search(pattern, actual):
            problems.append(f"header {header}: {actual!r} does not match /{pattern}/")
    return problems


def _json_problems(expectations: dict[str, Any], body: str) -> list[str]:
    try:
        document = json.loads(body)
    except ValueError:
        return [f"body is not JSON: {capture.excerpt(body, 120)!r}"]
    problems = []
    for path, wanted in expectations.items():
        actual = jsonpath.lookup(document, path)
        if actual is jsonpath.MISSING:
            problems.append(f"{path} missing")
        elif actual != wanted:
            problems.append(f"{path} = {json.dumps(actual)}")
    return problems


def _expectation(params: HttpParams) -> str:
    statuses = params.expected_statuses()
    parts = ["status " + (" or ".join(map(str, statuses)))]
    if params.body:
        parts.append(f"body ~ /{params.body}/")
    parts.extend(f"{path} = {json.dumps(value)}" for path, value in params.json_equals.items())
    parts.extend(f"header {h} ~ /{p}/" for h, p in params.response_headers.items())
    return ", ".join(parts)


PROBES = [ProbeSpec("http", HttpParams, check, "HTTP request: status, body, JSON fields, headers")]
