"""SandboxInfo and its state file, so that another process can find and stop a sandbox."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from phasegate.sandbox.kubeconfig import ADMIN_CONTEXT, RESTRICTED_CONTEXT, RESTRICTED_NAMESPACE
from phasegate.sandbox.paths import instance_dir, state_root
from phasegate.sandbox.processes import Proc

STATE_FILE = "state.json"


@dataclass(frozen=True)
class SandboxInfo:
    """A running sandbox: how to reach it and what to stop."""

    name: str
    kubeconfig: Path
    api_url: str
    state_dir: Path  # state file, logs, kubeconfig; removed by down()
    work_dir: Path  # temp dir: certificates, etcd data; removed by down()
    procs: tuple[Proc, ...]
    nodes: int
    admin_context: str = ADMIN_CONTEXT
    restricted_context: str = RESTRICTED_CONTEXT
    restricted_namespace: str = RESTRICTED_NAMESPACE
    registry: str | None = None  # 127.0.0.1:PORT of the local TLS registry, if started
    registry_ca: Path | None = None  # its CA (also in ~/.config/containers/certs.d/<registry>/)
    # Real nodes (kubelet + containerd, real_node.py): node name -> the host bridge it made
    real_nodes: dict[str, str] = field(default_factory=dict)

    @property
    def contexts(self) -> tuple[str, str]:
        return (self.admin_context, self.restricted_context)

    @property
    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self.procs}

    def summary(self) -> dict[str, Any]:
        """What ``phasegate sandbox up --json`` prints."""
        return {
            "name": self.name,
            "kubeconfig": str(self.kubeconfig),
            "contexts": {"admin": self.admin_context, "restricted": self.restricted_context},
            "restricted_namespace": self.restricted_namespace,
            "api_url": self.api_url,
            "nodes": self.nodes,
            "real_nodes": sorted(self.real_nodes),
            "state_dir": str(self.state_dir),
            "pids": self.pids,
            "registry": self.registry,
            "registry_ca": str(self.registry_ca) if self.registry_ca else None,
        }


def save(info: SandboxInfo) -> None:
    data = asdict(info)
    data["kubeconfig"] = str(info.kubeconfig)
    data["state_dir"] = str(info.state_dir)
    data["work_dir"] = str(info.work_dir)
    data["registry_ca"] = str(info.registry_ca) if info.registry_ca else None
    path = info.state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def load(name: str) -> SandboxInfo | None:
    path = instance_dir(name) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return SandboxInfo(
        name=data["name"],
        kubeconfig=Path(data["kubeconfig"]),
        api_url=data["api_url"],
        state_dir=Path(data["state_dir"]),
        work_dir=Path(data["work_dir"]),
        procs=tuple(Proc(**p) for p in data["procs"]),
        nodes=int(data["nodes"]),
        admin_context=data["admin_context"],
        restricted_context=data["restricted_context"],
        restricted_namespace=data["restricted_namespace"],
        registry=data.get("registry"),
        registry_ca=Path(data["registry_ca"]) if data.get("registry_ca") else None,
        real_nodes=dict(data.get("real_nodes") or {}),
    )


def names() -> list[str]:
    """Names of all sandboxes that have a state file."""
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if (d / STATE_FILE).is_file())
