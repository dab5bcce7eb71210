"""Network failures named the way an operator would say them ("connection refused", "name
not resolved", "TLS failure: …"). Below ``probes`` and ``kube``: the http, tcp and tls probes
and the Kubernetes client describe their transport errors alike."""

from __future__ import annotations

import errno
import ssl

import httpx

from phasegate import secrets


def describe_transport_error(exc: httpx.HTTPError) -> str:
    """Name the failure the way an operator would say it."""
    cause = _os_error_in_chain(exc)
    if cause is not None and not isinstance(cause, ssl.SSLError):
        return describe_os_error(cause)
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if "connection refused" in lowered or "errno 111" in lowered:
        return "connection refused"
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return f"TLS failure: {_excerpt(text, 200)}"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "name not resolved"
    return f"{type(exc).__name__}: {_excerpt(text, 200)}"


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ECONNREFUSED or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    if "Name or service not known" in str(exc) or "not known" in str(exc):
        return "name not resolved"
    return f"{type(exc).__name__}: {exc}"


def _os_error_in_chain(exc: BaseException) -> OSError | None:
    """httpx wraps the socket error (sometimes twice); the errno is the operator's answer."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current
        for inner in getattr(current, "exceptions", ()):  # exception groups from happy eyeballs
            found = _os_error_in_chain(inner)
            if found is not None:
                return found
        current = current.__cause__ or current.__context__
    return None


def _excerpt(text: str, limit: int) -> str:
    """One short masked line (as ``probes.capture.excerpt``, which sits above)."""
    flat = " ".join(secrets.mask(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
