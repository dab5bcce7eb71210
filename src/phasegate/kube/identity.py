"""How phasegate knows which cluster it talks to, with what the identity can see.

The API server URL plus the fingerprint of the CA that authenticates it is what every
identity has, so that identifies a run; the kube-system namespace UID is read (and then
identifies the run) only when the plan pins it, since a namespace-scoped identity cannot.
"""

from __future__ import annotations

import functools
import hashlib
import ssl
from dataclasses import asdict, dataclass
from typing import Any

BY_UID = "kube-system UID"
BY_SERVER_CA = "server+ca"
BY_SERVER = "server"


@dataclass(frozen=True)
class ClusterIdentity:
    """Who we talked to, and how we know; recorded with every run."""

    context: str
    server: str
    cluster_uid: str
    version: str
    identified_by: str = BY_UID
    ca_fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(recorded: dict[str, Any]) -> str:
    """How a recorded run identified its cluster, in words (runs recorded before the
    server + CA identification existed were all identified by UID)."""
    how = recorded.get("identified_by") or BY_UID
    if how == BY_UID:
        return f"kube-system UID {recorded.get('cluster_uid') or '?'}"
    if how == BY_SERVER_CA:
        return f"identified by server + CA {recorded.get('ca_fingerprint')}"
    return "identified by server URL only (no cluster CA to fingerprint)"


def ca_fingerprint(tls: ssl.SSLContext | bool) -> str:
    """``sha256:HEX`` of the CA certificates the kubeconfig trusts for this cluster; empty when
    TLS is not verified or only the system trust store is used (it names no one cluster)."""
    if not isinstance(tls, ssl.SSLContext) or tls.verify_mode == ssl.CERT_NONE:
        return ""
    certs = sorted(tls.get_ca_certs(binary_form=True))
    if not certs or certs == _system_store():
        return ""
    if len(certs) == 1:
        # What `openssl x509 -in ca.crt -outform der | sha256sum` prints, so a user can pin it.
        return "sha256:" + hashlib.sha256(certs[0]).hexdigest()
    digest = hashlib.sha256()
    for cert in certs:
        digest.update(hashlib.sha256(cert).digest())
    return "sha256:" + digest.hexdigest()


@functools.cache
def _system_store() -> list[bytes]:
    return sorted(ssl.create_default_context().get_ca_certs(binary_form=True))
