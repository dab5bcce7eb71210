"""Kubeconfig files and exec credential plugins built from the sandbox's, for tests."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from phasegate.sandbox import SandboxInfo, connect

PROBE = "{k8s.exists: {kind: Namespace, name: kube-system}}"


def sandbox_config(cluster: SandboxInfo) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(cluster.kubeconfig.read_text())
    return config


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config, indent=2))
    return path


def service_account_token(cluster: SandboxInfo, namespace: str) -> str:
    """A real token of a ServiceAccount allowed to read the cluster (TokenRequest API)."""
    name = f"reader-{uuid.uuid4().hex[:6]}"
    with connect(cluster) as api:
        api.create(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": name}})
        api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": f"{namespace}-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        })
        response = api.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": 3600}})
        response.raise_for_status()
        token: str = response.json()["status"]["token"]
        return token


PLUGIN = '''#!{python}
"""An exec credential plugin: prints the token of the Nth run from tokens.json."""
import json, os, pathlib, sys
here = pathlib.Path(__file__).parent
runs = here / "runs.log"
with runs.open("a") as log:
    log.write(json.dumps({{"args": sys.argv[1:], "env": os.environ.get("PLUGIN_ENV"),
                          "info": json.loads(os.environ["KUBERNETES_EXEC_INFO"])}}) + "\\n")
tokens = json.loads((here / "tokens.json").read_text())
n = len(runs.read_text().splitlines())
token = tokens[min(n, len(tokens)) - 1]
status = {{"token": token}}
if {expires!r}:
    status["expirationTimestamp"] = {expires!r}
print(json.dumps({{"apiVersion": {api_version!r}, "kind": "ExecCredential", "status": status}}))
'''


def exec_plugin(directory: Path, tokens: list[str], *, expires: str | None = "2099-01-01T00:00:00Z",
                api_version: str = "client.authentication.k8s.io/v1") -> Path:
    """A real plugin script handing out ``tokens`` in turn (the last one from then on)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokens.json").write_text(json.dumps(tokens))
    script = directory / "credential-plugin"
    script.write_text(PLUGIN.format(python=sys.executable, expires=expires,
                                    api_version=api_version))
    script.chmod(0o755)
    return script


def runs(directory: Path) -> list[dict[str, Any]]:
    log = directory / "runs.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [json.loads(line) for line in lines]


def exec_config(cluster: SandboxInfo, user: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's cluster with one context ``exec`` whose user is ``user``."""
    config = sandbox_config(cluster)
    config["users"] = [{"name": "exec-user", "user": user}]
    config["contexts"] = [{"name": "exec", "context": {"cluster": config["clusters"][0]["name"],
                                                        "user": "exec-user"}}]
    config["current-context"] = "exec"
    return config
