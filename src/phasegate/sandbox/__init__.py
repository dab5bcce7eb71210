"""A real, local Kubernetes control plane for tests, demos and trying phasegate.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as plain
processes on 127.0.0.1; KWOK plays the kubelet for N fake nodes, so pods "run" without
a container runtime while everything above the kubelet — admission, RBAC, quota, Pod
Security, server-side apply, controllers, scheduling — is the real thing. Beside it, a
local TLS registry holds the example images (registry.py; ``up(registry=False)`` skips it).

    info = up(nodes=2)      # returns once a Deployment can become Available
    ...                     # use info.kubeconfig with info.admin_context
    down(info)              # or down("default") from another process
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Api",
    "SandboxError",
    "SandboxInfo",
    "SandboxStatus",
    "connect",
    "down",
    "status",
    "up",
]

# Names load lazily: the image puller, a sandbox component of its own, imports one
# module of this package while the API server starts and should not pay for the rest.
_LAZY = {
    "Api": "phasegate.sandbox.api",
    "connect": "phasegate.sandbox.client",
    "SandboxError": "phasegate.sandbox.errors",
    "SandboxStatus": "phasegate.sandbox.lifecycle",
    "down": "phasegate.sandbox.lifecycle",
    "status": "phasegate.sandbox.lifecycle",
    "up": "phasegate.sandbox.lifecycle",
    "SandboxInfo": "phasegate.sandbox.state",
}

if TYPE_CHECKING:
    from phasegate.sandbox.api import Api
    from phasegate.sandbox.client import connect
    from phasegate.sandbox.errors import SandboxError
    from phasegate.sandbox.lifecycle import SandboxStatus, down, status, up
    from phasegate.sandbox.state import SandboxInfo


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'phasegate.sandbox' has no attribute {name!r}")
