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


def service_account_token(
    cluster: SandboxInfo, namespace: str, *, name: str | None = None,
    role: tuple[str, str] = ("ClusterRole", "view"), cluster_wide: bool = True,
) -> str:
    """A real token (TokenRequest API) of a new ServiceAccount in ``namespace``, bound to
    ``role`` (kind, name) cluster-wide or, with ``cluster_wide=False``, in ``namespace``."""
    name = name or f"reader-{uuid.uuid4().hex[:6]}"
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    with connect(cluster) as api:
        api.create(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": name}})
        binding = {
            "metadata": {"name": f"{namespace}-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role[0],
                        "name": role[1]},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        if cluster_wide:
            api.create(f"{rbac}/clusterrolebindings", binding)
        else:
            api.create(f"{rbac}/namespaces/{namespace}/rolebindings", binding)
        response = api.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": 3600}})
        response.raise_for_status()
        token: str = response.json()["status"]["token"]
        return token


def token_kubeconfig(cluster: SandboxInfo, path: Path, user: str, token: str,
                     namespace: str | None = None) -> Path:
    """A kubeconfig whose one context ``user`` authenticates to the sandbox by ``token``."""
    admin = sandbox_config(cluster)
    entry = next(c for c in admin["contexts"] if c["name"] == cluster.admin_context)
    context: dict[str, Any] = {"cluster": entry["context"]["cluster"], "user": user}
    if namespace:
        context["namespace"] = namespace
    return write(path, {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [c for c in admin["clusters"] if c["name"] == context["cluster"]],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": context}],
    })


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


STATUS_PLUGIN = '''#!{python}
"""An exec credential plugin: after {delay}s, prints the status of the Nth run from
statuses.json (the last one from then on)."""
import json, pathlib, time
here = pathlib.Path(__file__).parent
with (here / "runs.log").open("a") as log:
    log.write("{{}}\\n")
time.sleep({delay})
statuses = json.loads((here / "statuses.json").read_text())
n = len((here / "runs.log").read_text().splitlines())
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": statuses[min(n, len(statuses)) - 1]}}))
'''


def status_plugin(directory: Path, statuses: list[dict[str, Any]], delay: float = 0.0) -> Path:
    """A real plugin script handing out ExecCredential ``statuses`` in turn, each after
    ``delay`` seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "statuses.json").write_text(json.dumps(statuses))
    script = directory / "credential-plugin"
    script.write_text(STATUS_PLUGIN.format(python=sys.executable, delay=delay))
    script.chmod(0o755)
    return script
