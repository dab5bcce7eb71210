"""``k8s.secret_cert``: the certificate in a ``kubernetes.io/tls`` Secret — valid for the
expected names, not about to expire, issued and keyed as expected, and (given an endpoint)
the very certificate that endpoint serves. Only ``tls.crt`` is read: the private key and
the Secret's data never reach the evidence."""

from __future__ import annotations

import base64
import ssl
from typing import Any, Literal

from pydantic import Field

from phasegate import net_errors
from phasegate.kube import connections
from phasegate.observation import Verdict
from phasegate.probes import tls
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe


class SecretCertParams(ProbeParams):
    name: str = Field(description="the Secret's name")
    namespace: str | None = Field(None, description="default: the plan's target namespace")
    san: list[str] = Field(default_factory=list, description="names/IPs it must cover")
    min_days: float = Field(0, ge=0, description="days of validity left, at least")
    issuer: str | None = Field(None, description="regex the issuer's DN must match")
    key_type: Literal["rsa", "ec", "ed25519", "ed448"] | None = None
    min_key_size: int | None = Field(None, ge=1, description="bits, at least")
    endpoint: str | None = Field(
        None, description="host:port that must serve this same certificate"
    )

    def describe(self) -> str:
        return f"Secret {self.name}" + (f" served at {self.endpoint}" if self.endpoint else "")

    def expected_names(self) -> list[str]:
        return self.san


async def check_secret_cert(params: SecretCertParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    expected = "; ".join(filter(None, [
        f"SAN covers {', '.join(params.san)}" if params.san else "",
        f"≥ {params.min_days:g} days left",
        f"served at {params.endpoint}" if params.endpoint else ""]))
    secret = await client.get(f"/api/v1/namespaces/{namespace}/secrets/{params.name}")
    if secret is None:
        return Verdict(False, expected, "Secret not found")
    if secret.get("type") != "kubernetes.io/tls" or "tls.crt" not in (secret.get("data") or {}):
        return Verdict(False, expected, f"Secret type {secret.get('type')} holds no tls.crt",
                       fail_fast=True)
    try:
        cert = tls.parse_certificate(_leaf_der(secret["data"]["tls.crt"]))
    except ValueError as exc:
        return Verdict(False, expected, f"tls.crt is not a certificate: {exc}", fail_fast=True)
    del secret  # nothing else of the Secret is kept
    problems, fail_fast = tls.certificate_problems(params, tls.Handshake(cert, "", None))
    data: dict[str, Any] = {"sans": cert.sans, "issuer": cert.issuer, "sha256": cert.sha256,
                            "not_after": cert.not_after.isoformat(),
                            "days_left": round(cert.days_left(), 2)}
    if params.endpoint:
        served = await _served_fingerprint(params.endpoint)
        data["endpoint_sha256"] = served
        if served != cert.sha256:
            problems.append(f"{params.endpoint} serves another certificate ({served[:16]}…, "
                            f"the Secret holds {cert.sha256[:16]}…)" if len(served) == 64
                            else f"{params.endpoint}: {served}")
    summary = f"SAN {', '.join(cert.sans) or '(none)'}; {cert.days_left():.0f} days left; " \
              f"issuer {cert.issuer}"
    return Verdict(not problems, expected, "; ".join(problems) or summary,
                   fail_fast=fail_fast, data=data)


def _leaf_der(encoded: str) -> bytes:
    pem = base64.b64decode(encoded).decode("ascii", errors="replace")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in pem:
        raise ValueError("no PEM certificate")
    return ssl.PEM_cert_to_DER_cert(pem[pem.index(begin): pem.index(end) + len(end)] + "\n")


async def _served_fingerprint(endpoint: str) -> str:
    host, _, port = endpoint.rpartition(":")
    try:
        seen = await tls.handshake(host.strip("[]"), int(port), verify=False, timeout=10)
    except (OSError, TimeoutError) as exc:
        said = net_errors.describe_os_error(exc) if isinstance(exc, OSError) else exc
        return f"unreachable: {said}"
    return seen.certificate.sha256


PROBES = [cluster_probe("k8s.secret_cert", SecretCertParams, check_secret_cert,
                    "the certificate in a kubernetes.io/tls Secret, and whether it is served")]
