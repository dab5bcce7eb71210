"""``exec`` credential plugins (client.authentication.k8s.io v1 and v1beta1), as kubectl runs them.

A plugin's credential is kept until its ``expirationTimestamp`` (forever without one) and
asked again when the API answers 401. What it prints is a secret: its token and key are
registered before anything else is done with them, and its output is never quoted.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phasegate import secrets
from phasegate.errors import TargetError

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
MODES = ("Never", "IfAvailable", "Always")
TIMEOUT = 120.0  # a non-interactive plugin that hangs must not hang the run
_CLUSTER_EXTENSION = "client.authentication.k8s.io/exec"


@dataclass(frozen=True)
class Issued:
    """What one run of the plugin gave."""

    token: str | None
    cert: bytes | None
    key: bytes | None
    expires: datetime | None

    def valid(self) -> bool:
        return self.expires is None or datetime.now(UTC) < self.expires


class Plugin:
    def __init__(self, spec: dict[str, Any], user: str, file: Path, cluster: dict[str, Any],
                 cluster_file: Path) -> None:
        self.user = user
        self.file = file
        self.api_version = str(spec.get("apiVersion", ""))
        if self.api_version not in API_VERSIONS:
            raise TargetError(
                f"kubeconfig {file}: user {user!r}: exec apiVersion {self.api_version or '(none)'}"
                f" is not one phasegate runs ({', '.join(API_VERSIONS)})")
        command = spec.get("command")
        if not isinstance(command, str) or not command:
            raise TargetError(f"kubeconfig {file}: user {user!r}: exec has no command")
        # kubectl: a relative command with a slash is relative to the kubeconfig's directory
        if os.sep in command and not os.path.isabs(command):
            command = str(file.parent / command)
        self.command = command
        self.args = [str(a) for a in spec.get("args") or []]
        self.env = {str(e.get("name")): str(e.get("value", "")) for e in spec.get("env") or []
                    if isinstance(e, dict)}
        self.hint = str(spec.get("installHint") or "").strip()
        mode = spec.get("interactiveMode") or ("IfAvailable" if "v1beta1" in self.api_version
                                               else None)
        if mode not in MODES:
            raise TargetError(f"kubeconfig {file}: user {user!r}: exec interactiveMode must be "
                              f"one of {', '.join(MODES)} (got {mode!r})")
        self.mode = str(mode)
        self.cluster = _cluster_info(cluster, cluster_file) if spec.get("provideClusterInfo") \
            else None
        self._lock = threading.Lock()
        self._issued: Issued | None = None

    def cached(self) -> Issued | None:
        """The credential in hand while it is valid: no thread or process needed for it."""
        issued = self._issued
        return issued if issued is not None and issued.valid() else None

    def credential(self, stale: Issued | None = None) -> Issued:
        """The cached credential while valid; a new one when expired or when ``stale`` (the
        one a 401 refused) is still the cached one."""
        with self._lock:
            if self._issued is None or not self._issued.valid() or self._issued is stale:
                self._issued = self._run()
            return self._issued

    def _run(self) -> Issued:
        interactive = self.mode != "Never" and sys.stdin is not None and sys.stdin.isatty()
        if self.mode == "Always" and not interactive:
            raise self._error("needs an interactive terminal (interactiveMode: Always), and "
                              "phasegate's standard input is not one")
        spec: dict[str, Any] = {"interactive": interactive}
        if self.cluster is not None:
            spec["cluster"] = self.cluster
        info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            done = subprocess.run(
                [self.command, *self.args], env=env, stdout=subprocess.PIPE,
                stdin=None if interactive else subprocess.DEVNULL,
                stderr=None if interactive else subprocess.PIPE,
                timeout=None if interactive else TIMEOUT, check=False)
        except FileNotFoundError:
            raise self._error("is not installed (not found)") from None
        except PermissionError:
            raise self._error("cannot be run (permission denied)") from None
        except subprocess.TimeoutExpired:
            raise self._error(f"did not finish within {TIMEOUT:.0f}s") from None
        if done.returncode != 0:
            said = (done.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
            quoted = secrets.mask(" / ".join(said))
            raise self._error(f"failed with exit code {done.returncode}"
                              + (f": {quoted}" if quoted else ""))
        return self._parse(done.stdout)

    def _parse(self, output: bytes) -> Issued:
        try:
            document = json.loads(output)
        except ValueError:
            raise self._error("printed something that is not an ExecCredential (not JSON)",
                              hint=False) from None
        status = document.get("status") if isinstance(document, dict) else None
        if not isinstance(status, dict):
            raise self._error("printed an ExecCredential without status", hint=False)
        token, cert, key = (status.get("token"), status.get("clientCertificateData"),
                            status.get("clientKeyData"))
        for value in (token, key):
            secrets.register(value if isinstance(value, str) else None)
        if document.get("apiVersion") != self.api_version:
            raise self._error(f"answered apiVersion {document.get('apiVersion')!r}, not the "
                              f"{self.api_version} it was asked for", hint=False)
        if not (isinstance(token, str) and token) and not (cert and key):
            raise self._error("gave neither a token nor a client certificate and key",
                              hint=False)
        return Issued(token if isinstance(token, str) and token else None,
                      str(cert).encode() if cert and key else None,
                      str(key).encode() if cert and key else None,
                      self._expiry(status.get("expirationTimestamp")))

    def _expiry(self, value: object) -> datetime | None:
        if value in (None, ""):
            return None
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            raise self._error(f"gave expirationTimestamp {value!r}, which is not RFC 3339",
                              hint=False) from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    def _error(self, what: str, hint: bool = True) -> TargetError:
        text = (f"the exec credential plugin {self.command!r} of user {self.user!r} "
                f"(kubeconfig {self.file}) {what}")
        if hint and self.hint:
            text += f". {self.hint}"
        return TargetError(text)


def _cluster_info(cluster: dict[str, Any], file: Path) -> dict[str, Any]:
    """The Cluster object of KUBERNETES_EXEC_INFO (provideClusterInfo: true)."""
    info: dict[str, Any] = {"server": cluster.get("server", "")}
    for key in ("tls-server-name", "insecure-skip-tls-verify", "proxy-url",
                "disable-compression"):
        if cluster.get(key) not in (None, ""):
            info[key] = cluster[key]
    ca = cluster.get("certificate-authority-data")
    if not ca and cluster.get("certificate-authority"):
        try:
            ca = base64.b64encode((file.parent / str(cluster["certificate-authority"]))
                                  .expanduser().read_bytes()).decode()
        except OSError:
            ca = None  # the TLS setup names the missing file
    if ca:
        info["certificate-authority-data"] = ca
    for extension in cluster.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == _CLUSTER_EXTENSION:
            info["config"] = extension.get("extension")
    return info


_plugins: dict[str, Plugin] = {}
_plugins_lock = threading.Lock()


def plugin(spec: dict[str, Any], user: str, file: Path, cluster: dict[str, Any],
           cluster_file: Path) -> Plugin:
    """One plugin per configuration in this process, so its credential is asked once and
    shared by every client (as kubectl's cache does)."""
    key = json.dumps([spec, str(file.parent), cluster if spec.get("provideClusterInfo") else None],
                     sort_keys=True, default=str)
    with _plugins_lock:
        if key not in _plugins:
            _plugins[key] = Plugin(spec, user, file, cluster, cluster_file)
        return _plugins[key]
