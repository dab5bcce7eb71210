"""``k8s.http``: an HTTP request to a Service (or a pod) through the API server's proxy.

The request goes where ``kubectl get --raw /api/v1/namespaces/NS/services/NAME:PORT/proxy/``
goes: the API server picks a ready endpoint of the Service and forwards the request to
it, with the plan's own credentials. So it needs no route, NodePort or port-forward from
where phasegate runs to the cluster's pod network, and it proves the Service selects a
pod that really answers. An endpoint the API server cannot reach (KWOK's fake pods run
nothing) answers 502/503: a "no", not a guess.
"""

from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from phasegate import fields
from phasegate.kube import connections
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe

BODY_SHOWN = 200


class K8sHttpParams(ProbeParams):
    service: str | None = Field(None, description="the Service to send the request to")
    pod: str | None = Field(None, description="or: one pod, by name")
    port: int | str = Field(80, description="the Service's (or pod's) port, number or name")
    path: str = Field("/", description="request path, with any query string")
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    scheme: Literal["http", "https"] = "http"
    method: Literal["GET", "HEAD"] = "GET"
    status: int | list[int] = Field(200, description="expected status code, or any of a list")
    body: str | None = Field(None, description="regex the response body must match")
    timeout: fields.Seconds = Field(10.0, description="seconds for the request")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"path {value!r} must start with /")
        return value

    @field_validator("body")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @model_validator(mode="after")
    def _one_target(self) -> K8sHttpParams:
        if (self.service is None) == (self.pod is None):
            raise ValueError("name exactly one of `service` and `pod`")
        return self

    def target(self) -> tuple[str, str]:
        return ("services", self.service) if self.service else ("pods", str(self.pod))

    def describe(self) -> str:
        kind, name = self.target()
        return f"{self.method} {self.path} on {kind[:-1]} {name}:{self.port} (API server proxy)"

    def expected_statuses(self) -> list[int]:
        return self.status if isinstance(self.status, list) else [self.status]


async def check(params: K8sHttpParams, ctx: ProbeContext) -> Verdict:
    kind, name = params.target()
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    scheme = "https:" if params.scheme == "https" else ""
    proxy = f"/api/v1/namespaces/{namespace}/{kind}/{scheme}{name}:{params.port}/proxy"
    statuses = params.expected_statuses()
    expected = f"HTTP {' or '.join(map(str, statuses))}" + (
        f", body matching /{params.body}/" if params.body else "")
    started = time.monotonic()
    response = await client.request(params.method, proxy + params.path, timeout=params.timeout)
    took = round((time.monotonic() - started) * 1000)
    text = response.text
    shown = text[:BODY_SHOWN].strip() + ("…" if len(text) > BODY_SHOWN else "")
    problems = []
    if response.status_code not in statuses:
        problems.append(f"HTTP {response.status_code}")
    if params.body is not None and not re.search(params.body, text):
        problems.append(f"body does not match /{params.body}/")
    observed = f"HTTP {response.status_code} in {took} ms: {shown or '(empty body)'}"
    if problems:
        observed = f"{'; '.join(problems)} ({observed})"
    return Verdict(not problems, expected, observed,
                   data={"status": response.status_code, "ms": took, "via": proxy})


PROBES = [cluster_probe("k8s.http", K8sHttpParams, check,
                        "an HTTP request to a Service or pod through the API server's proxy")]
