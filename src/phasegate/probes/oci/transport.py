"""One shared, authenticated way to ask a registry: the round trips are what we optimise.

Per event loop and registry there is one ``httpx.AsyncClient`` (HTTP/2 when the registry
offers it, so hundreds of probes share one TLS connection), a bound on requests in flight,
and a lock so that only the first request discovers the auth challenge while the others
wait and then go straight to the token. Tokens and challenges live in :mod:`tokens`, so a
warm probe is one request. 429 and 5xx are retried with backoff (honouring Retry-After);
nothing else is, because nothing else gets better by asking again at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from phasegate import net_errors, secrets
from phasegate.probes import capture
from phasegate.probes.oci import credentials, reference, tokens

MAX_IN_FLIGHT = 32  # per registry and event loop; enough to fill an HTTP/2 connection
RETRIES = 3
MAX_RETRY_WAIT = 5.0  # a longer Retry-After is reported, and left to the gate's own retry
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "phasegate"
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 1 << 20  # bytes read or written at a time when a blob streams
Body = bytes | Path  # what a request sends: bytes, or a file read afresh on every attempt


@dataclass(frozen=True)
class Target:
    """Where a registry is and how to get in: plain data, so it can key the shared clients."""

    registry: str  # as written in references (docker.io, host:port)
    plain_http: bool = False
    insecure: bool = False
    ca: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    auth_file: Path | None = None
    timeout: float = 10.0

    @property
    def host(self) -> str:
        return reference.DOCKER_HUB_API if self.registry == reference.DOCKER_HUB else self.registry

    @property
    def base_url(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host}"

    def session_key(self) -> tuple[object, ...]:
        password = hashlib.sha256((self.password or "").encode()).hexdigest()
        return (self.base_url, self.insecure, self.ca, self.username, password, self.auth_file)


@dataclass
class Trace:
    """What one probe cost: requests sent (the round trips), retries, the protocol used."""

    requests: int = 0
    retries: int = 0
    http_version: str = ""
    credentials: str = "anonymous"
    notes: list[str] = field(default_factory=list)


class RegistryFailure(Exception):
    """A named outcome of asking a registry, turned into a Verdict by the probe."""

    def __init__(
        self, outcome: str, observed: str, *, fail_fast: bool, detail: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(observed)
        self.outcome = outcome
        self.observed = observed
        self.fail_fast = fail_fast
        self.detail = detail
        self.data = data or {}


@dataclass
class _Session:
    client: httpx.AsyncClient
    slots: asyncio.Semaphore
    first: asyncio.Lock  # the first request alone: it learns the challenge and opens the h2 link
    primed: bool = False
    lookup: credentials.Lookup | None = None
    token_locks: dict[tokens.TokenKey, asyncio.Lock] = field(default_factory=dict)
    repositories: set[str] = field(default_factory=set)  # seen to exist in this event loop


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[object, ...], _Session]]
_sessions = weakref.WeakKeyDictionary()


def _session(target: Target) -> _Session:
    loop = asyncio.get_running_loop()
    per_loop = _sessions.get(loop)
    if per_loop is None:
        per_loop = _sessions[loop] = {}
        _close_with(loop)
    key = target.session_key()
    found = per_loop.get(key)
    if found is None:
        limits = httpx.Limits(
            max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT,
            keepalive_expiry=30.0,
        )
        client = httpx.AsyncClient(
            http2=True, verify=_ssl_context(target), limits=limits, timeout=target.timeout,
            headers={"User-Agent": USER_AGENT},
        )
        found = _Session(client, asyncio.Semaphore(MAX_IN_FLIGHT), asyncio.Lock())
        per_loop[key] = found
    return found


def _ssl_context(target: Target) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if target.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    for ca in [target.ca] if target.ca is not None else certs_d(target.host):
        context.load_verify_locations(cafile=str(ca))  # besides the system store
    return context


def certs_d(host: str) -> list[Path]:
    """CA files Docker, containerd and podman users already keep per registry."""
    roots = (
        Path.home() / ".config" / "containers" / "certs.d",
        Path("/etc/containers/certs.d"),
        Path("/etc/docker/certs.d"),
    )
    return [ca for root in roots for ca in sorted((root / host).glob("*.crt"))]


def seen_repository(target: Target, repository: str) -> None:
    """Remember that ``repository`` exists, so a later miss in it is a tag, at no cost."""
    _session(target).repositories.add(repository)


def known_repository(target: Target, repository: str) -> bool:
    return repository in _session(target).repositories


async def close_all() -> None:
    """Close this event loop's clients (servers that outlive many probes call this)."""
    for session in _sessions.pop(asyncio.get_running_loop(), {}).values():
        await session.client.aclose()


def _close_with(loop: asyncio.AbstractEventLoop) -> None:
    """Close the loop's clients when the loop ends, however it is run.

    asyncio.run (and every runner built on it: the CLI, the Python API, a test) finalises
    the loop's async generators before it closes the loop; a generator parked at its
    ``yield`` is that hook. Without it the clients kept their connections, and through
    them the loop itself, alive for the life of the process.
    """

    async def closer() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await close_all()
            _closers.pop(asyncio.get_running_loop(), None)

    generator = closer()
    _closers[loop] = generator  # the loop tracks it weakly: collected, it would close too soon
    started = generator.__anext__()  # and from this call on, the loop tracks it
    task = loop.create_task(_awaited(started))
    _starting.add(task)
    task.add_done_callback(_starting.discard)


async def _awaited(step: Awaitable[None]) -> None:
    await step


_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncIterator[None]]
_closers = weakref.WeakKeyDictionary()
_starting: set[asyncio.Task[None]] = set()


async def request(
    target: Target, trace: Trace, method: str, path: str, *, scope: str,
    accept: str | None = None, params: dict[str, str] | None = None,
    content: Body | None = None, content_type: str | None = None,
) -> httpx.Response:
    """``method path`` on the registry, authenticated for ``scope``; 401 is left to the caller.

    ``scope`` may name several, space-separated (a cross-repository mount pulls from one
    repository and pushes to another). ``content`` is sent as the body, again on a retry: a
    file is read afresh each time, never held in memory.
    """
    session = _session(target)
    headers = {"Accept": accept} if accept else {}
    if content_type:
        headers["Content-Type"] = content_type
    if not session.primed:
        # The session's first request goes alone: it learns the challenge (if no earlier
        # loop did) and opens the connection every later request multiplexes over.
        async with session.first:
            if not session.primed:
                session.lookup = await _credentials(target)
                _note(trace, session.lookup)
                if tokens.challenge(target.base_url) is None:
                    response = await _send(session, target, trace, method, path, headers, params,
                                           content)
                    if response.status_code != 401:
                        tokens.remember_challenge(target.base_url, tokens.Challenge("none"))
                        session.primed = True
                        return response
                    tokens.remember_challenge(target.base_url, _challenge_of(response, target))
                response = await _authenticated(session, target, trace, method, path, headers,
                                                 params, scope, content)
                session.primed = True
                return response
    return await _authenticated(session, target, trace, method, path, headers, params, scope,
                                content)


async def _authenticated(
    session: _Session, target: Target, trace: Trace, method: str, path: str,
    headers: dict[str, str], params: dict[str, str] | None, scope: str,
    content: Body | None = None,
) -> httpx.Response:
    lookup = session.lookup or credentials.Lookup(None)
    _note(trace, lookup)
    for again in (False, True):
        known = tokens.challenge(target.base_url) or tokens.Challenge("none")
        auth, cached = await _authorization(session, target, trace, known, scope, lookup)
        response = await _send(session, target, trace, method, path, {**headers, **auth}, params,
                               content)
        if response.status_code != 401 or again:
            return response
        newer = parse_401(response)
        if newer is not None and newer.scheme != known.scheme:
            tokens.remember_challenge(target.base_url, newer)  # the registry changed its mind
        elif known.scheme == "bearer" and cached:
            tokens.forget_token(_token_key(known, scope, lookup))  # revoked before it expired
        else:
            return response
    raise AssertionError("unreachable")


def _note(trace: Trace, lookup: credentials.Lookup) -> None:
    if lookup.credentials is not None:
        trace.credentials = lookup.credentials.source
    if lookup.note and lookup.note not in trace.notes:
        trace.notes.append(lookup.note)


def parse_401(response: httpx.Response) -> tokens.Challenge | None:
    return tokens.parse_challenge(response.headers.get("www-authenticate", ""))


def _challenge_of(response: httpx.Response, target: Target) -> tokens.Challenge:
    found = parse_401(response)
    if found is None:
        raise RegistryFailure(
            "unauthorized",
            f"unauthorized: {target.registry} answered 401 without a usable challenge",
            fail_fast=True, detail=_headers_excerpt(response),
        )
    return found


async def _credentials(target: Target) -> credentials.Lookup:
    if target.username:
        secrets.register(target.password)
        return credentials.Lookup(
            credentials.Credentials(target.username, target.password or "", "probe parameters")
        )
    return await credentials.lookup(target.registry, target.auth_file)


def _token_key(
    known: tokens.Challenge, scope: str, lookup: credentials.Lookup
) -> tokens.TokenKey:
    creds = lookup.credentials
    who = tokens.identity(creds.username, creds.password) if creds else ""
    return (known.realm, known.service, scope, who)


async def _authorization(
    session: _Session, target: Target, trace: Trace, known: tokens.Challenge, scope: str,
    lookup: credentials.Lookup,
) -> tuple[dict[str, str], bool]:
    """The Authorization header for ``scope`` and whether it came from the cache."""
    creds = lookup.credentials
    if known.scheme == "basic":
        return ({"Authorization": creds.basic()} if creds else {}), False
    if known.scheme != "bearer":
        return {}, False
    key = _token_key(known, scope, lookup)
    value = tokens.token(key)
    if value is not None:
        return {"Authorization": f"Bearer {value}"}, True
    lock = session.token_locks.setdefault(key, asyncio.Lock())
    async with lock:  # one token request per scope, however many probes want it at once
        value = tokens.token(key)
        if value is not None:
            return {"Authorization": f"Bearer {value}"}, True
        value = await _fetch_token(session, target, trace, known, scope, creds)
    return {"Authorization": f"Bearer {value}"}, False


async def _fetch_token(
    session: _Session, target: Target, trace: Trace, known: tokens.Challenge, scope: str,
    creds: credentials.Credentials | None,
) -> str:
    fetched_at = time.monotonic()
    query: dict[str, str | list[str]] = {"scope": scope.split(" ")}
    if known.service:
        query["service"] = known.service
    headers = {"Authorization": creds.basic()} if creds else {}
    response = await _send(session, target, trace, "GET", known.realm, headers, query)
    if response.status_code != 200:
        raise status_failure(response, target, trace, f"token for {scope}", from_token=True)
    try:
        body = response.json()
        value = str(body.get("token") or body.get("access_token") or "")
    except (ValueError, AttributeError):
        value = ""
    if not value:
        raise RegistryFailure(
            "unexpected", f"token server {known.realm} answered without a token", fail_fast=False
        )
    secrets.register(value)
    expires_in = body.get("expires_in")
    tokens.remember_token(
        _token_key(known, scope, credentials.Lookup(creds)), value,
        float(expires_in) if isinstance(expires_in, int | float) else None, fetched_at,
    )
    return value


async def _send(
    session: _Session, target: Target, trace: Trace, method: str, path: str,
    headers: dict[str, str], params: Mapping[str, str | list[str]] | None,
    content: Body | None = None,
) -> httpx.Response:
    url = path if path.startswith(("https://", "http://")) else f"{target.base_url}{path}"
    for attempt in range(RETRIES + 1):
        async with session.slots:
            trace.requests += 1
            body, length = _body(content)
            sent = {**headers, "Content-Length": str(length)} if length is not None else headers
            try:
                response = await session.client.request(
                    method, url, headers=sent, params=params, timeout=target.timeout,
                    follow_redirects=method == "GET",  # blobs may live behind a redirect
                    content=body,
                )
            except httpx.HTTPError as exc:
                raise await transport_failure(exc, url, target) from None
        trace.http_version = response.http_version
        wait = _retry_wait(response, attempt)
        if wait is None:
            return response
        trace.retries += 1
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def _body(content: Body | None) -> tuple[bytes | AsyncIterator[bytes] | None, int | None]:
    if content is None or isinstance(content, bytes):
        return content, None if content is None else len(content)
    return _chunks(content), content.stat().st_size


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


async def download(
    target: Target, trace: Trace, path: str, *, scope: str, into: BinaryIO, what: str,
) -> tuple[str, int]:
    """``GET path`` streamed into ``into``; the sha256 digest and size of what came. A blob
    of any size never sits in memory. A HEAD goes first: it answers any auth challenge (and
    renews a revoked token) the way every other request does, so the stream is sent with an
    authorization that works."""
    head = await request(target, trace, "HEAD", path, scope=scope)
    if head.status_code not in (200, *REDIRECTS):  # blobs may live behind a redirect
        raise status_failure(head, target, trace, what)
    session = _session(target)
    known = tokens.challenge(target.base_url) or tokens.Challenge("none")
    lookup = session.lookup or credentials.Lookup(None)
    auth, _ = await _authorization(session, target, trace, known, scope, lookup)
    url = f"{target.base_url}{path}"
    digest, size = hashlib.sha256(), 0
    async with session.slots:
        trace.requests += 1
        try:
            async with session.client.stream("GET", url, headers=auth, follow_redirects=True,
                                             timeout=target.timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise status_failure(response, target, trace, what)
                async for chunk in response.aiter_bytes(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    into.write(chunk)
        except httpx.HTTPError as exc:
            raise await transport_failure(exc, url, target) from None
    return f"sha256:{digest.hexdigest()}", size


def _retry_wait(response: httpx.Response, attempt: int) -> float | None:
    """Seconds to wait before asking again, or None to answer with ``response`` now."""
    if response.status_code not in RETRY_STATUSES or attempt >= RETRIES:
        return None
    backoff = 0.2 * 2.0**attempt
    after = retry_after(response)
    if after is None:
        return backoff
    return after if after <= MAX_RETRY_WAIT else None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        from email.utils import parsedate_to_datetime

        try:
            return max(float(parsedate_to_datetime(value).timestamp()) - time.time(), 0.0)
        except (TypeError, ValueError):
            return None
    return None


def status_failure(
    response: httpx.Response, target: Target, trace: Trace, what: str, *, from_token: bool = False,
) -> RegistryFailure:
    """Name a status that is not the answer: 401, 403, 429, 5xx, anything else."""
    status = response.status_code
    code, message = error_code(response)
    said = f" ({code}: {message})" if code else ""
    detail = f"{response.request.method} {_safe_url(response)} → {status}{said}\n"
    detail += _headers_excerpt(response)
    data: dict[str, Any] = {"status": status, "error_code": code}
    if status == 401:
        header = response.headers.get("www-authenticate", "")
        scope_error = tokens.challenge_error(header)
        if scope_error == "insufficient_scope":
            why = f"no access for {what}: the repository may not exist, or the "
            why += f"credentials ({trace.credentials}) may not pull it"
        elif trace.credentials == "anonymous":
            why = "the registry requires credentials and none were found"
            why += "".join(f"; {note}" for note in trace.notes)
        else:
            why = f"credentials from {trace.credentials} were refused"
        where = "token server: " if from_token else ""
        return RegistryFailure("unauthorized", f"unauthorized: {where}{why}", fail_fast=True,
                               detail=detail, data=data)
    if status == 403:
        return RegistryFailure(
            "forbidden", f"forbidden: {trace.credentials} may not access {what}{said}",
            fail_fast=True, detail=detail, data=data,
        )
    if status == 429:
        after = retry_after(response)
        data["retry_after"] = after
        hint = f", Retry-After {after:g} s" if after is not None else ""
        return RegistryFailure("rate_limited", f"rate limited (429{hint})", fail_fast=False,
                               detail=detail, data=data)
    if status >= 500:
        retried = f" after {trace.retries} retries" if trace.retries else ""
        return RegistryFailure(
            "server_error", f"server error {status} {response.reason_phrase}{retried}",
            fail_fast=False, detail=detail, data=data,
        )
    return RegistryFailure(
        "unexpected", f"unexpected status {status} for {what}{said}", fail_fast=False,
        detail=detail, data=data,
    )


def error_code(response: httpx.Response) -> tuple[str, str]:
    """The first ``errors[].code`` and message of a distribution-spec error body."""
    try:
        errors = json.loads(response.content or b"{}").get("errors") or []
        first = errors[0]
        return str(first.get("code", "")), capture.excerpt(str(first.get("message", "")), 160)
    except (ValueError, AttributeError, IndexError, TypeError):
        return "", ""


def _safe_url(response: httpx.Response) -> str:
    url = response.request.url
    return str(url.copy_with(query=None))


def _headers_excerpt(response: httpx.Response) -> str:
    keep = ("www-authenticate", "retry-after", "content-type", "docker-distribution-api-version")
    return "".join(f"{k}: {v}\n" for k, v in response.headers.items() if k.lower() in keep)


async def transport_failure(exc: httpx.HTTPError, url: str, target: Target) -> RegistryFailure:
    """Name what went wrong below HTTP; a certificate problem says which names it covers."""
    from phasegate.probes import tls

    verification = _cert_error(exc)
    if verification is not None:
        parsed = httpx.URL(url)
        served = await tls.served_names(parsed.host, parsed.port or 443, target.timeout)
        observed = tls.describe_verification(verification, parsed.host, served)
        return RegistryFailure(
            "tls_failure", f"TLS failure: {observed}", fail_fast=True,
            data={"served_sans": served, "verify_message": verification.verify_message},
        )
    said = net_errors.describe_transport_error(exc)
    if said.startswith("TLS failure"):
        return RegistryFailure("tls_failure", said, fail_fast=False)
    return RegistryFailure("unreachable", f"unreachable: {said}", fail_fast=False)


def _cert_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        current = current.__cause__ or current.__context__
    return None
