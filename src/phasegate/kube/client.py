"""An async Kubernetes API client: requests, discovery, list and watch."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from phasegate import net_errors
from phasegate.errors import ProbeError, WatchRefused
from phasegate.kube import auth, exec_transport, wire
from phasegate.kube.kubeconfig import Credentials

Json = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """One API resource as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


class KubeClient:
    def __init__(self, credentials: Credentials, timeout: float = 30.0) -> None:
        self.credentials = credentials
        plugin = credentials.auth if isinstance(credentials.auth, auth.Plugin) else None
        transport = _transport(credentials, plugin)
        self._timeout = timeout
        self._prefix = urllib.parse.urlsplit(credentials.server).path.rstrip("/")
        # requests whose answer is read whole skip httpx's client when nothing of its own
        # (a proxy, an exec plugin, basic auth) is needed: see kube.wire
        self._wire = transport if isinstance(transport, wire.Http11) and isinstance(
            credentials.auth, (auth.Bearer, auth.TokenFile, type(None))) else None
        self._http = httpx.AsyncClient(
            base_url=credentials.server,
            verify=credentials.ssl_context,
            auth=credentials.auth,
            proxy=credentials.proxy if plugin is None else None,
            # an exec plugin's client certificate is renewed: its connections are too
            # watches stream through httpx's own transport, as before kube.wire: a gate's
            # watch once saw an event 2 s late in a full suite run on the lean transport
            transport=None if isinstance(transport, wire.Http11) else transport,
            headers={"User-Agent": "phasegate"},
            timeout=httpx.Timeout(timeout, connect=5.0),
            event_hooks={"request": [self._name_server]} if credentials.tls_server_name else None,
        )
        self._groups: dict[str, list[Resource]] = {}
        self._discovery_lock = asyncio.Lock()
        self._api_groups: Json | None = None
        self._kinds: dict[str, Resource] = {}

    async def _name_server(self, request: httpx.Request) -> None:
        # tls-server-name: the name asked for (SNI) and checked in the server's certificate
        request.extensions["sni_hostname"] = self.credentials.tls_server_name

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Json | None = None,
        content: str | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            if self._wire is not None:
                return await self._direct(self._wire, method, path, params, body, content,
                                          content_type, timeout)
            return await self._http.request(
                method, path, params=params, json=body, content=content, headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise ProbeError(
                f"Kubernetes API {self.credentials.server} unreachable: "
                f"{net_errors.describe_transport_error(exc)}",
                retryable=True,
            ) from None

    async def _direct(self, lane: wire.Http11, method: str, path: str,
                      params: dict[str, Any] | None, body: Json | None, content: str | None,
                      content_type: str | None, timeout: float | None) -> httpx.Response:
        target = self._prefix + urllib.parse.quote(path, safe=PATH_SAFE)
        if params:
            target += "?" + urllib.parse.urlencode(
                {key: _query_value(value) for key, value in params.items()})
        headers = [(b"User-Agent", b"phasegate"), (b"Accept", b"*/*")]
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            content_type = content_type or "application/json"
        elif content is not None:
            payload = content.encode()
        if content_type:
            headers.append((b"Content-Type", content_type.encode("latin-1")))
        credential = self.credentials.auth
        if isinstance(credential, (auth.Bearer, auth.TokenFile)):
            headers.append((b"Authorization", credential.header().encode("latin-1")))
        hooks = self._http.event_hooks
        request = None
        if hooks["request"] or hooks["response"]:  # they see every request, either lane
            request = httpx.Request(method, self.credentials.server.rstrip("/") + target,
                                    headers=[(k, v) for k, v in headers], content=payload)
            for hook in hooks["request"]:
                await hook(request)
        response = await lane.request(method, target, headers, payload,
                                      timeout if timeout is not None else self._timeout,
                                      self.credentials.tls_server_name)
        if request is not None:
            response.request = request
            for hook in hooks["response"]:
                await hook(response)
        return response

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Json | None:
        """The object at ``path``; None when it does not exist."""
        response = await self.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        raise_for_status(response, f"GET {path}")
        try:
            result = response.json()
        except ValueError:
            result = None
        if not isinstance(result, dict):
            raise ProbeError(
                f"GET {self.credentials.server.rstrip('/')}{path} answered "
                f"{response.status_code} with "
                f"{response.headers.get('content-type') or 'no content type'}, which is not a "
                "Kubernetes JSON object: is the kubeconfig's server a Kubernetes API server?")
        return result

    async def watch(
        self, path: str, resource_version: str, timeout: float, params: dict[str, Any] | None = None
    ) -> AsyncIterator[Json]:
        """Watch events after ``resource_version`` until ``timeout``; ends on 410 or a drop.

        The caller re-lists when the iteration ends early: a watch that returns is never
        taken as "nothing changed".
        """
        query = {
            **(params or {}),
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "false",
            "timeoutSeconds": str(max(int(timeout) + 1, 1)),
        }
        try:
            async with self._http.stream(
                "GET", path, params=query, timeout=httpx.Timeout(timeout + 5, connect=5.0)
            ) as response:
                if response.status_code == 410:
                    return
                if response.status_code in (403, 405):  # forbidden, or a kind never watched
                    await response.aread()
                    why = "forbidden" if response.status_code == 403 else "not supported"
                    raise WatchRefused(f"watch {why}: {status_message(response)}")
                raise_for_status(response, f"WATCH {path}")
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":  # 410 Gone arrives as an ERROR event
                        return
                    yield event
        except (httpx.HTTPError, json.JSONDecodeError):
            return  # a dropped watch: the caller re-lists and watches again

    async def resources(self, api_version: str) -> list[Resource]:
        """Resources served under ``api_version`` (``v1``, ``apps/v1``); empty when not served."""
        async with self._discovery_lock:
            if api_version not in self._groups:
                self._groups[api_version] = await self._discover(api_version)
            return self._groups[api_version]

    def forget_discovery(self) -> None:
        """New CRDs change what is served; forget what discovery said."""
        self._groups.clear()
        self._api_groups = None
        self._kinds.clear()

    async def api_groups(self) -> Json:
        """``/apis``, asked once until discovery is forgotten."""
        if self._api_groups is None:
            self._api_groups = await self.get("/apis") or {}
        return self._api_groups

    async def _discover(self, api_version: str) -> list[Resource]:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        document = await self.get(path)
        if document is None:
            return []
        return [
            Resource(group, version, r["kind"], r["name"], bool(r.get("namespaced")),
                     tuple(r.get("verbs") or ()))
            for r in document.get("resources", [])
            if "/" not in r["name"]  # subresources (status, scale, log) are not kinds
        ]

    async def group_versions(self, group: str) -> list[str]:
        """The versions of ``group`` the server serves (``["apps/v1"]``); empty when none."""
        groups = await self.api_groups()
        for entry in groups.get("groups", []):
            if entry.get("name") == group:
                return [v["groupVersion"] for v in entry.get("versions", [])]
        return []

    async def resource(self, api_version: str, kind: str) -> Resource | None:
        for candidate in await self.resources(api_version):
            if candidate.kind == kind:
                return candidate
        return None

    async def find_kind(self, kind: str, api_version: str | None = None) -> Resource:
        """The resource for ``kind``; without an apiVersion, the core and well-known groups
        are searched, then every group the server serves (its preferred versions)."""
        if api_version:
            found = await self.resource(api_version, kind)
            if found is None:
                raise ProbeError(f"{api_version}/{kind} is not served by this cluster")
            return found
        if kind not in self._kinds:
            found = await self._search(kind)
            if found is None:  # a CRD installed a moment ago: ask discovery afresh, once
                self.forget_discovery()
                found = await self._search(kind)
            if found is None:
                raise ProbeError(f"kind {kind!r} is not served by this cluster "
                                 "(give apiVersion?)")
            self._kinds[kind] = found  # gates ask for the same kind on every attempt
        return self._kinds[kind]

    async def _search(self, kind: str) -> Resource | None:
        for version in WELL_KNOWN:
            found = await self.resource(version, kind)
            if found is not None:
                return found
        groups = await self.api_groups()
        for group in groups.get("groups", []):
            preferred = group.get("preferredVersion", {}).get("groupVersion")
            if preferred and preferred not in WELL_KNOWN:
                found = await self.resource(preferred, kind)
                if found is not None:
                    return found
        return None


PATH_SAFE = "/:@!$&'()*+,;=-._~"  # what httpx leaves as it is in a path


def _query_value(value: Any) -> str:
    """As httpx writes a query parameter: booleans in lower case, None empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _transport(credentials: Credentials, plugin: auth.Plugin | None
               ) -> httpx.AsyncBaseTransport | None:
    """How requests travel: straight to the server on ``wire`` (lean), through httpx's own
    transport when a proxy is in the way, on connections that carry an exec plugin's
    renewed client certificate when the plugin issues one."""
    if plugin is not None:
        return exec_transport.CertRotating(plugin, credentials.ssl_context,
                                           credentials.server, credentials.proxy)
    if credentials.proxy or exec_transport.environment_proxy(credentials.server):
        return None
    return wire.Http11(credentials.server, credentials.ssl_context)


WELL_KNOWN = ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "storage.k8s.io/v1",
              "apiextensions.k8s.io/v1", "rbac.authorization.k8s.io/v1", "policy/v1")


def raise_for_status(response: httpx.Response, what: str) -> None:
    if response.status_code < 400:
        return
    retryable = response.status_code >= 500 or response.status_code == 429
    raise ProbeError(f"{what}: {status_message(response)}", retryable=retryable)


def status_message(response: httpx.Response) -> str:
    """The API's own words: ``403 Forbidden: pods is forbidden: User "x" cannot ...``."""
    try:
        body = response.json()
        message = body.get("message") or response.reason_phrase
        reason = body.get("reason") or response.reason_phrase
    except (ValueError, AttributeError):
        message, reason = response.text[:300], response.reason_phrase
    return f"{response.status_code} {reason}: {message}"


def warnings_of(response: httpx.Response) -> list[str]:
    """Admission and deprecation warnings from the Warning headers (RFC 7234 form)."""
    found = []
    for value in response.headers.get_list("warning"):
        text = value
        if value[:4].isdigit() or value.startswith("299"):
            text = value.split(" ", 2)[-1]  # "299 - "message""
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':  # a quoted-string: \" and \\ escaped
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        found.append(text)
    return found
