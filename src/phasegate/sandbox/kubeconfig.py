"""Kubeconfig files: one for each component, and the user's with its two contexts."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path

from phasegate.sandbox.pki import CertPair

ADMIN_CONTEXT = "phasegate-local"
RESTRICTED_CONTEXT = "phasegate-local-restricted"
RESTRICTED_NAMESPACE = "phasegate-restricted"
RESTRICTED_USER = "phasegate-restricted-user"
CLUSTER = "phasegate-local"


def write_component(path: Path, api_url: str, ca: Path, client: CertPair) -> None:
    """Kubeconfig pointing at files, for a component started by us."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CLUSTER, "cluster": {"server": api_url, "certificate-authority": str(ca)}}
        ],
        "users": [
            {
                "name": "component",
                "user": {"client-certificate": str(client.cert), "client-key": str(client.key)},
            }
        ],
        "contexts": [{"name": "c", "context": {"cluster": CLUSTER, "user": "component"}}],
        "current-context": "c",
    }
    _dump(path, config)


def write_user(path: Path, api_url: str, ca: Path, admin: CertPair, restricted: CertPair) -> None:
    """The kubeconfig handed to people and tests.

    Certificates are embedded so the file stands alone: it can be copied elsewhere or
    merged into another kubeconfig.
    """
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER,
                "cluster": {"server": api_url, "certificate-authority-data": _b64(ca)},
            }
        ],
        "users": [
            {"name": "phasegate-admin", "user": _embedded(admin)},
            {"name": RESTRICTED_USER, "user": _embedded(restricted)},
        ],
        "contexts": [
            {"name": ADMIN_CONTEXT, "context": {"cluster": CLUSTER, "user": "phasegate-admin"}},
            {
                "name": RESTRICTED_CONTEXT,
                "context": {
                    "cluster": CLUSTER,
                    "user": RESTRICTED_USER,
                    "namespace": RESTRICTED_NAMESPACE,
                },
            },
        ],
        "current-context": ADMIN_CONTEXT,
    }
    _dump(path, config)


def _embedded(pair: CertPair) -> dict[str, str]:
    return {"client-certificate-data": _b64(pair.cert), "client-key-data": _b64(pair.key)}


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _dump(path: Path, config: Mapping[str, object]) -> None:
    # JSON is valid YAML, so every Kubernetes client reads it; 0600 as it holds keys.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(config, indent=2) + "\n")
