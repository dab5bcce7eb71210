"""Reading a kubeconfig: which server, which credentials, for one named context.

phasegate never falls back to the current context: the context is always named. The files
are found and merged as kubectl does (:mod:`phasegate.kube.kubeconfig_files`).
"""

from __future__ import annotations

import atexit
import base64
import binascii
import shutil
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from phasegate import secrets
from phasegate.errors import TargetError
from phasegate.kube import auth, exec_plugin, kubeconfig_files

Entry = kubeconfig_files.Entry


@dataclass(frozen=True)
class Credentials:
    server: str
    context: str
    cluster: str
    user: str
    namespace: str | None
    ssl_context: ssl.SSLContext | bool
    auth: httpx.Auth | None
    kubeconfig: str  # the file that defines the context
    tls_server_name: str | None = None
    proxy: str | None = None


def load(path: str | None, context: str) -> Credentials:
    """Credentials for ``context`` in the kubeconfig at ``path`` (default: $KUBECONFIG)."""
    merged = kubeconfig_files.read(path)
    entry = merged.context(context)
    cluster = merged.named("clusters", str(entry.body.get("cluster", "")), entry)
    user_name = str(entry.body.get("user") or "")
    user = merged.named("users", user_name, entry) if user_name else Entry("", {}, entry.file)
    server = str(cluster.body.get("server", ""))
    if not server:
        raise TargetError(f"kubeconfig {cluster.file}: cluster {cluster.name!r} has no server")
    tls = _ssl_context(cluster, user)
    plugin = _plugin(user, cluster)  # run at the first request (in a thread), not now
    proxy = cluster.body.get("proxy-url")
    if proxy:
        secrets.register_url(str(proxy))
    return Credentials(
        server=server.rstrip("/"),
        context=context,
        cluster=cluster.name,
        user=user_name,
        namespace=entry.body.get("namespace"),
        ssl_context=tls,
        auth=auth.Plugin(plugin, _plugin_tls(cluster, user)) if plugin is not None
        else _auth(user),
        kubeconfig=str(entry.file),
        tls_server_name=str(cluster.body.get("tls-server-name") or "") or None,
        proxy=str(proxy) if proxy else None,
    )


def contexts(path: str | None) -> list[str]:
    try:
        return list(kubeconfig_files.read(path).entries["contexts"])
    except TargetError:
        return []


def _plugin(user: Entry, cluster: Entry) -> exec_plugin.Plugin | None:
    spec = user.body.get("exec")
    if spec is None:
        if user.body.get("auth-provider"):
            raise TargetError(
                f"kubeconfig {user.file}: user {user.name!r} authenticates through an "
                "auth-provider plugin, which kubectl itself no longer runs; use an exec "
                "credential plugin, a token or a client certificate")
        return None
    if not isinstance(spec, dict):
        raise TargetError(f"kubeconfig {user.file}: user {user.name!r}: exec is not a mapping")
    return exec_plugin.plugin(spec, user.name, user.file, cluster.body, cluster.file)


def _plugin_tls(cluster: Entry, user: Entry) -> Callable[[exec_plugin.Issued], ssl.SSLContext]:
    def tls_for(issued: exec_plugin.Issued) -> ssl.SSLContext:
        """The cluster's TLS settings with the certificate and key the plugin gave."""
        context = _ssl_context(cluster, user)
        if issued.cert and issued.key:
            cert, key = _private_file(issued.cert), _private_file(issued.key)
            try:
                _load_chain(context, cert, key, user)
            finally:  # loaded into memory: the key need not stay on disk
                cert.unlink(missing_ok=True)
                key.unlink(missing_ok=True)
        return context

    return tls_for


def _auth(user: Entry) -> httpx.Auth | None:
    body = user.body
    if body.get("token"):
        return auth.Bearer(str(body["token"]))
    if body.get("tokenFile"):
        return auth.TokenFile(_path(user, str(body["tokenFile"])), user.name, user.file)
    if body.get("username") and body.get("password"):
        secrets.register(str(body["password"]))
        pair = f"{body['username']}:{body['password']}"
        secrets.register(pair)
        secrets.register(base64.b64encode(pair.encode()).decode())
        return httpx.BasicAuth(str(body["username"]), str(body["password"]))
    return None


def _path(entry: Entry, value: str) -> Path:
    return (entry.file.parent / Path(value).expanduser())


def _material(entry: Entry, key: str, what: str, secret: bool = False) -> Path | None:
    """A file holding ``key``: the path given, or the inline ``key-data`` written privately."""
    data = entry.body.get(f"{key}-data")
    if data:
        try:
            raw = base64.b64decode(str(data), validate=True)
        except (binascii.Error, ValueError):
            raise TargetError(f"kubeconfig {entry.file}: {what} {entry.name!r}: {key}-data "
                              "is not base64") from None
        if secret:
            secrets.register(raw.decode(errors="replace").strip())
        return _private_file(raw)
    if entry.body.get(key):
        file = _path(entry, str(entry.body[key]))
        if not file.is_file():
            raise TargetError(f"kubeconfig {entry.file}: {what} {entry.name!r}: {key} "
                              f"{file} not found")
        return file
    return None


_private_dir: str | None = None


def _private_file(content: bytes) -> Path:
    global _private_dir
    if _private_dir is None:
        _private_dir = tempfile.mkdtemp(prefix="phasegate-kube-")
        atexit.register(shutil.rmtree, _private_dir, True)
    handle, name = tempfile.mkstemp(dir=_private_dir)
    with open(handle, "wb") as out:
        out.write(content)
    return Path(name)


def _ssl_context(cluster: Entry, user: Entry) -> ssl.SSLContext:
    if cluster.body.get("insecure-skip-tls-verify"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        ca = _material(cluster, "certificate-authority", "cluster")
        try:
            context = ssl.create_default_context(cafile=str(ca) if ca else None)
        except ssl.SSLError as exc:
            raise TargetError(f"kubeconfig {cluster.file}: cluster {cluster.name!r}: its "
                              f"certificate authority is not a PEM certificate ({exc.reason})"
                              ) from None
    cert = _material(user, "client-certificate", "user")
    key = _material(user, "client-key", "user", secret=True)
    if cert and key:
        _load_chain(context, cert, key, user)
    elif cert or key:
        raise TargetError(f"kubeconfig {user.file}: user {user.name!r} has a client "
                          f"{'certificate' if cert else 'key'} but no client "
                          f"{'key' if cert else 'certificate'}")
    return context


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path, user: Entry) -> None:
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise TargetError(f"kubeconfig {user.file}: user {user.name!r}: the client certificate "
                          f"and key cannot be used together ({exc.reason})") from None
