"""A minimal Kubernetes API client over httpx, authenticated by a client certificate.

The sandbox needs a handful of calls while bootstrapping (create nodes, RBAC, a probe
Deployment); a full client library would be a heavy dependency for that.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from phasegate.sandbox.pki import CertPair

Json = dict[str, Any]


class Api:
    def __init__(self, url: str, ca: Path, client: CertPair, timeout: float = 10.0) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.load_cert_chain(str(client.cert), str(client.key))
        self._http = httpx.Client(base_url=url, verify=ctx, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: Json | None = None,
        *,
        content_type: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One call; ``content_type`` picks a patch flavour (e.g. apply-patch+yaml)."""
        headers = {"Content-Type": content_type} if content_type else None
        return self._http.request(method, path, json=body, headers=headers, params=params)

    def get(self, path: str) -> Json | None:
        """The object at ``path``, or None when it does not exist (404)."""
        resp = self.request("GET", path)
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        result: Json = resp.json()
        return result

    def create(self, path: str, body: Json) -> None:
        """POST ``body``; an object that already exists (409) counts as created."""
        resp = self.request("POST", path, body)
        if resp.status_code != 409:
            resp.raise_for_status()


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
    """Poll ``check`` until it is true; TimeoutError naming ``what`` when time runs out.

    Connection errors count as "not yet": components come up while we poll.
    """
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError) as exc:
            last_error = f" (last error: {exc})"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f}s{last_error}")
        time.sleep(interval)
