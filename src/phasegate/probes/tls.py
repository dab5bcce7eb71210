"""``tls``: the certificate an endpoint serves — trusted, valid for the expected names, not
about to expire, issued and keyed as expected.

The observation always lists the names (SANs) the certificate actually covers, because
"valid for 192.168.1.18, not 192.168.7.21" is the answer people lose hours looking for.
Only the public certificate is ever read; no private key is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import Field, field_validator

from phasegate import fields, net_errors
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec

_HOSTNAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED: renewal can still fix it, so not fail-fast


class TlsParams(ProbeParams):
    host: str = Field(description="host name or IP address to connect to")
    port: int = Field(443, ge=1, le=65535)
    server_name: str | None = Field(None, description="SNI name to send (default: host)")
    san: list[str] | None = Field(
        None, description="names/IPs the certificate must cover (default: [host]; [] skips)"
    )
    min_days: float = Field(0, ge=0, description="days of validity left, at least")
    ca: str | None = Field(None, description="CA bundle (PEM) trusted besides the system store")
    verify: bool = Field(True, description="the chain must verify")
    issuer: str | None = Field(None, description="regex the issuer's DN must match")
    key_type: Literal["rsa", "ec", "ed25519", "ed448"] | None = None
    min_key_size: int | None = Field(None, ge=1, description="bits, at least")
    timeout: fields.Seconds = Field(10.0, description="seconds for connect and handshake")

    @field_validator("issuer")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    def describe(self) -> str:
        return f"{self.host}:{self.port}"

    def expected_names(self) -> list[str]:
        return [self.server_name or self.host] if self.san is None else self.san


@dataclass(frozen=True)
class Certificate:
    """The public facts of a served certificate."""

    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_after: datetime
    key_type: str
    key_size: int
    sha256: str

    @property
    def sans(self) -> list[str]:
        return [*self.ip_addresses, *self.dns_names]

    def days_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400

    def covers(self, name: str) -> bool:
        try:
            wanted = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return any(_dns_match(pattern, name) for pattern in self.dns_names)
        return any(ipaddress.ip_address(ip) == wanted for ip in self.ip_addresses)


@dataclass(frozen=True)
class Handshake:
    certificate: Certificate
    tls_version: str
    verify_error: ssl.SSLCertVerificationError | None  # None: trusted (or not asked)


async def check(params: TlsParams, ctx: ProbeContext) -> Verdict:
    ca = str(ctx.base_dir / params.ca) if params.ca else None
    expected = _expectation(params)
    try:
        seen = await handshake(
            params.host, params.port, server_name=params.server_name, ca=ca,
            verify=params.verify, timeout=params.timeout,
        )
    except TimeoutError:
        return Verdict(False, expected, f"unreachable: timed out after {params.timeout:g} s")
    except ssl.SSLError as exc:
        return Verdict(False, expected, f"TLS handshake failed: {exc.reason or exc}")
    except OSError as exc:
        return Verdict(False, expected, f"unreachable: {net_errors.describe_os_error(exc)}")
    cert = seen.certificate
    problems, fail_fast = certificate_problems(params, seen)
    days = cert.days_left()
    summary = (
        f"SAN {', '.join(cert.sans) or '(none)'}; {days:.0f} days left; "
        f"issuer {cert.issuer}; {cert.key_type.upper()} {cert.key_size}"
    )
    observed = "; ".join(problems) if problems else summary
    detail = (
        f"{params.host}:{params.port} {seen.tls_version}\nsubject: {cert.subject}\n"
        f"issuer: {cert.issuer}\nSANs: {', '.join(cert.sans)}\n"
        f"not after: {cert.not_after.isoformat()}\nsha256: {cert.sha256}\n"
    )
    data: dict[str, Any] = {
        "sans": cert.sans, "subject": cert.subject, "issuer": cert.issuer,
        "not_after": cert.not_after.isoformat(), "days_left": round(days, 2),
        "key_type": cert.key_type, "key_size": cert.key_size, "sha256": cert.sha256,
        "tls_version": seen.tls_version, "trusted": params.verify and seen.verify_error is None,
    }
    if not params.verify:
        data["findings"] = ["chain not verified (verify: false)"]
    return Verdict(not problems, expected, observed, detail=detail, fail_fast=fail_fast, data=data)


class CertificateExpectations(Protocol):
    @property
    def min_days(self) -> float: ...
    @property
    def issuer(self) -> str | None: ...
    @property
    def key_type(self) -> str | None: ...
    @property
    def min_key_size(self) -> int | None: ...

    def expected_names(self) -> list[str]: ...


def certificate_problems(
    params: CertificateExpectations, seen: Handshake
) -> tuple[list[str], bool]:
    """What is wrong with a certificate against expectations; and whether waiting can fix it."""
    cert = seen.certificate
    problems: list[str] = []
    fail_fast = False
    if seen.verify_error is not None:
        problems.append(f"untrusted: {seen.verify_error.verify_message}")
        fail_fast = seen.verify_error.verify_code != _EXPIRED
    missing = [name for name in params.expected_names() if not cert.covers(name)]
    if missing:
        served = ", ".join(cert.sans) or "(no SAN)"
        problems.append(f"SAN lacks {', '.join(missing)} (valid for {served})")
        fail_fast = True
    days = cert.days_left()
    if days < params.min_days:
        when = f"expired {-days:.0f} days ago" if days < 0 else f"expires in {days:.1f} days"
        problems.append(f"{when} ({cert.not_after:%Y-%m-%d}), want ≥ {params.min_days:g}")
    if params.issuer and not re.search(params.issuer, cert.issuer):
        problems.append(f"issuer {cert.issuer} does not match /{params.issuer}/")
        fail_fast = True
    if params.key_type and cert.key_type != params.key_type:
        problems.append(f"key is {cert.key_type}, not {params.key_type}")
        fail_fast = True
    if params.min_key_size and cert.key_size < params.min_key_size:
        problems.append(f"key is {cert.key_size} bits, want ≥ {params.min_key_size}")
        fail_fast = True
    return problems, fail_fast


def _expectation(params: TlsParams) -> str:
    trust = "system store" + (f" + {params.ca}" if params.ca else "")
    parts = [f"chain trusted by {trust}" if params.verify else "chain not verified"]
    if params.expected_names():
        parts.append(f"SAN covers {', '.join(params.expected_names())}")
    parts.append(f"≥ {params.min_days:g} days left")
    if params.issuer:
        parts.append(f"issuer ~ /{params.issuer}/")
    if params.key_type or params.min_key_size:
        parts.append(f"key {params.key_type or 'any'} ≥ {params.min_key_size or 0} bits")
    return "; ".join(parts)


async def handshake(
    host: str, port: int, *, server_name: str | None = None, ca: str | None = None,
    verify: bool = True, timeout: float = 10.0,
) -> Handshake:
    """Connect, verify the chain (not the name: we report names ourselves), read the leaf."""
    verify_error: ssl.SSLCertVerificationError | None = None
    if verify:
        try:
            return await _handshake(host, port, server_name, _context(ca, True), timeout, None)
        except ssl.SSLCertVerificationError as exc:
            verify_error = exc  # look again without verifying, to say what is served
    return await _handshake(host, port, server_name, _context(None, False), timeout, verify_error)


async def served_names(host: str, port: int, timeout: float = 5.0) -> list[str]:
    """The SANs an endpoint's certificate covers, read without trusting it ([] if unreadable)."""
    try:
        seen = await handshake(host, port, verify=False, timeout=timeout)
    except (OSError, TimeoutError):
        return []
    return seen.certificate.sans


def describe_verification(error: ssl.SSLCertVerificationError, host: str, served: list[str]) -> str:
    names = ", ".join(served) or "no names"
    if error.verify_code in _HOSTNAME_MISMATCH:
        return f"certificate is valid for {names}, not {host}"
    return f"{error.verify_message} (certificate valid for {names})"


def _context(ca: str | None, verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    elif ca:
        context.load_verify_locations(cafile=ca)
    return context


async def _handshake(
    host: str, port: int, server_name: str | None, context: ssl.SSLContext, timeout: float,
    verify_error: ssl.SSLCertVerificationError | None,
) -> Handshake:
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=server_name or host),
        timeout,
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True)
        version = ssl_object.version() or ""
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return Handshake(parse_certificate(der), version, verify_error)


def parse_certificate(der: bytes) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    key = cert.public_key()
    key_type, size = "other", 0
    if isinstance(key, rsa.RSAPublicKey):
        key_type, size = "rsa", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, size = "ec", key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, size = "ed25519", 256
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, size = "ed448", 456
    return Certificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        dns_names=dns,
        ip_addresses=ips,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_size=size,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def _dns_match(pattern: str, name: str) -> bool:
    """RFC 6125: a wildcard stands for exactly one whole left-most label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*."):
        return False
    head, _, rest = name.partition(".")
    return bool(head) and rest == pattern[2:]


PROBES = [
    ProbeSpec(
        "tls", TlsParams, check,
        "TLS endpoint: trusted chain, SANs, days to expiry, issuer, key",
        default_interval=5.0,
    )
]
