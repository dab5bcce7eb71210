"""Reading a kubeconfig: which server, which credentials, for one named context.

phasegate never falls back to the current context: the context is always named.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate import secrets
from phasegate.errors import TargetError


@dataclass(frozen=True)
class Credentials:
    server: str
    context: str
    cluster: str
    user: str
    namespace: str | None
    ssl_context: ssl.SSLContext | bool
    headers: dict[str, str]
    kubeconfig: str


def default_path() -> str:
    return os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(
        Path.home() / ".kube" / "config"
    )


def load(path: str | None, context: str) -> Credentials:
    """Credentials for ``context`` in the kubeconfig at ``path`` (default: $KUBECONFIG)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    file = Path(path or default_path()).expanduser()
    try:
        config = YAML(typ="safe").load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"kubeconfig {file} not found (set --kubeconfig or KUBECONFIG)") from None
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise TargetError(f"kubeconfig {file} cannot be read: {exc}") from None
    if not isinstance(config, dict):
        raise TargetError(f"kubeconfig {file} is not a kubeconfig mapping")
    entry = _named(config, "contexts", context, file)
    cluster_name = str(entry.get("cluster", ""))
    user_name = str(entry.get("user", ""))
    cluster = _named(config, "clusters", cluster_name, file)
    user = _named(config, "users", user_name, file) if user_name else {}
    server = str(cluster.get("server", ""))
    if not server:
        raise TargetError(f"kubeconfig {file}: cluster {cluster_name!r} has no server")
    return Credentials(
        server=server.rstrip("/"),
        context=context,
        cluster=cluster_name,
        user=user_name,
        namespace=entry.get("namespace"),
        ssl_context=_ssl_context(cluster, user, file.parent),
        headers=_auth_headers(user, file.parent),
        kubeconfig=str(file),
    )


def contexts(path: str | None) -> list[str]:
    from ruamel.yaml import YAML

    file = Path(path or default_path()).expanduser()
    try:
        config = YAML(typ="safe").load(file.read_text(encoding="utf-8")) or {}
    except Exception:
        return []
    return [str(c.get("name")) for c in config.get("contexts") or [] if isinstance(c, dict)]


def _named(config: dict[str, Any], section: str, name: str, file: Path) -> dict[str, Any]:
    for item in config.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(section[:-1])
            return body if isinstance(body, dict) else {}
    if section == "contexts":
        known = ", ".join(contexts(str(file))) or "none"
        raise TargetError(f"context {name!r} is not in kubeconfig {file} (it has: {known})")
    raise TargetError(f"kubeconfig {file} names {section[:-1]} {name!r} but does not define it")


def _material(entry: dict[str, Any], key: str, base: Path, secret: bool = False) -> Path | None:
    """A file holding ``key``: the path given, or the inline ``key-data`` written privately."""
    if entry.get(f"{key}-data"):
        raw = base64.b64decode(entry[f"{key}-data"])
        return _private_file(raw)
    if entry.get(key):
        return (base / str(entry[key])).expanduser()
    return None


_private_dir: str | None = None


def _private_file(content: bytes) -> Path:
    global _private_dir
    if _private_dir is None:
        _private_dir = tempfile.mkdtemp(prefix="phasegate-kube-")
        atexit.register(shutil.rmtree, _private_dir, True)
    handle, name = tempfile.mkstemp(dir=_private_dir)
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    return Path(name)


def _ssl_context(
    cluster: dict[str, Any], user: dict[str, Any], base: Path
) -> ssl.SSLContext | bool:
    if cluster.get("insecure-skip-tls-verify"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        ca = _material(cluster, "certificate-authority", base)
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    cert = _material(user, "client-certificate", base)
    key = _material(user, "client-key", base, secret=True)
    if cert and key:
        context.load_cert_chain(str(cert), str(key))
    return context


def _auth_headers(user: dict[str, Any], base: Path) -> dict[str, str]:
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text().strip()
    if token:
        secrets.register(str(token))
        return {"Authorization": f"Bearer {token}"}
    if user.get("username") and user.get("password"):
        secrets.register(str(user["password"]))
        pair = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        secrets.register(pair)
        return {"Authorization": f"Basic {pair}"}
    if user.get("exec") or user.get("auth-provider"):
        raise TargetError(
            "this kubeconfig user authenticates through an exec or auth-provider plugin, which "
            "phasegate does not run yet; use a token or client certificate context"
        )
    return {}
