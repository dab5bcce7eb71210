"""The kubeconfig a suite's commands get: the suite's context as the current one, so that a
bare ``kubectl`` in a step talks to the cluster the suite runs against, and no other."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from phasegate.kube import kubeconfig_files

PATH_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def write(explicit: str | None, context: str) -> Path:
    """A private file (in a private directory) for ``context``; the caller removes it."""
    merged = kubeconfig_files.read(explicit)
    chosen = merged.context(context)
    body = chosen.body
    cluster = merged.named("clusters", str(body.get("cluster")), chosen)
    user = merged.named("users", str(body.get("user")), chosen) if body.get("user") else None
    document: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "contexts": [{"name": context, "context": body}],
        "clusters": [{"name": cluster.name, "cluster": _absolute(cluster)}],
        "users": [{"name": user.name, "user": _absolute(user)}] if user else [],
    }
    directory = Path(tempfile.mkdtemp(prefix="phasegate-suite-"))
    file = directory / "kubeconfig"
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        yaml.safe_dump(document, out)
    return file


def remove(file: Path) -> None:
    file.unlink(missing_ok=True)
    file.parent.rmdir()


def _absolute(entry: kubeconfig_files.Entry) -> dict[str, Any]:
    """Paths in a kubeconfig are relative to its file: the copy lives elsewhere."""
    body = dict(entry.body)
    for key in PATH_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            body[key] = str((entry.file.parent / value).resolve())
    return body
