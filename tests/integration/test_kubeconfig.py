"""Kubeconfigs as kubectl reads them, against the real sandbox, through the real CLI."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from phasegate.sandbox import SandboxInfo
from tests.integration import kubeconfig_helpers as kc
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster


def probe(tmp_path: Path, *args: str, env: dict[str, str] | None = None
          ) -> tuple[int, str, bytes]:
    """Exit code, everything printed (terminal line breaks undone), and every byte the store
    wrote."""
    store = tmp_path / "store" / "e.db"
    done = phasegate("-vv", "probe", kc.PROBE, "--store", str(store), *args, env=env)
    written = b"".join(p.read_bytes() for p in store.parent.iterdir() if p.is_file()) \
        if store.parent.exists() else b""
    return done.returncode, " ".join((done.stdout + done.stderr).split()), written


def test_a_context_defined_in_the_second_kubeconfig_file_is_used(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    first = kc.write(tmp_path / "first.yaml", {
        "apiVersion": "v1", "kind": "Config", "current-context": "elsewhere",
        "clusters": [{"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "nobody", "user": {}}],
        "contexts": [{"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "nobody"}}],
    })
    listed = os.pathsep.join([str(first), str(tmp_path / "missing.yaml"), str(cluster.kubeconfig)])
    code, printed, _ = probe(tmp_path, "--context", cluster.admin_context,
                             env={"KUBECONFIG": listed})
    assert code == 0, printed


def test_the_first_file_to_define_a_cluster_wins(cluster: SandboxInfo, tmp_path: Path) -> None:
    config = kc.sandbox_config(cluster)
    cluster_name = config["clusters"][0]["name"]
    first = kc.write(tmp_path / "first.yaml", {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": "https://127.0.0.1:1"}}],
    })
    listed = os.pathsep.join([str(first), str(cluster.kubeconfig)])
    code, printed, _ = probe(tmp_path, "--context", cluster.admin_context,
                             env={"KUBECONFIG": listed})
    assert code == 2, printed
    assert "127.0.0.1:1" in printed and "Traceback" not in printed


def test_an_exec_plugin_token_works_and_never_leaks(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    token = kc.service_account_token(cluster, namespace)
    plugin = kc.exec_plugin(tmp_path / "plugin", [token])
    config = kc.write(tmp_path / "kubeconfig", kc.exec_config(cluster, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
        "args": ["--for", "phasegate"], "env": [{"name": "PLUGIN_ENV", "value": "set"}],
        "interactiveMode": "Never", "provideClusterInfo": True,
    }}))
    code, printed, written = probe(tmp_path, "--context", "exec", "--kubeconfig", str(config))
    assert code == 0, printed
    assert token not in printed and token.encode() not in written
    runs = kc.runs(tmp_path / "plugin")
    assert len(runs) == 1  # verified and probed with one credential, cached until it expires
    assert runs[0]["args"] == ["--for", "phasegate"] and runs[0]["env"] == "set"
    info = runs[0]["info"]
    assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == cluster.api_url
    assert info["spec"]["cluster"]["certificate-authority-data"]


def test_a_v1beta1_plugin_is_asked_again_when_the_api_answers_401(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    token = kc.service_account_token(cluster, namespace)
    plugin = kc.exec_plugin(tmp_path / "plugin", ["revoked-token-0123456789", token],
                            api_version="client.authentication.k8s.io/v1beta1")
    config = kc.write(tmp_path / "kubeconfig", kc.exec_config(cluster, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}}))
    code, printed, written = probe(tmp_path, "--context", "exec", "--kubeconfig", str(config))
    assert code == 0, printed
    assert len(kc.runs(tmp_path / "plugin")) == 2
    assert token not in printed and token.encode() not in written


def test_an_expired_plugin_credential_is_asked_again(
    cluster: SandboxInfo, namespace: str, tmp_path: Path
) -> None:
    token = kc.service_account_token(cluster, namespace)
    plugin = kc.exec_plugin(tmp_path / "plugin", [token], expires="2001-01-01T00:00:00Z")
    config = kc.write(tmp_path / "kubeconfig", kc.exec_config(cluster, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
        "interactiveMode": "IfAvailable"}}))
    code, printed, _ = probe(tmp_path, "--context", "exec", "--kubeconfig", str(config))
    assert code == 0, printed
    assert len(kc.runs(tmp_path / "plugin")) > 1


HINT = "Install the example plugin: pip install example-credential-plugin"


@pytest.mark.parametrize("command", ["phasegate-no-such-credential-plugin", "false"])
def test_a_missing_or_failing_plugin_gives_its_install_hint_and_exit_2(
    cluster: SandboxInfo, tmp_path: Path, command: str
) -> None:
    config = kc.write(tmp_path / "kubeconfig", kc.exec_config(cluster, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": command,
        "interactiveMode": "Never", "installHint": HINT}}))
    code, printed, _ = probe(tmp_path, "--context", "exec", "--kubeconfig", str(config))
    assert code == 2, printed
    assert HINT in printed and command in printed and "Traceback" not in printed


def test_an_exec_plugin_may_give_a_client_certificate(
    cluster: SandboxInfo, tmp_path: Path
) -> None:
    admin = next(u for u in kc.sandbox_config(cluster)["users"]
                 if u["name"] == "phasegate-admin")["user"]
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {key: base64.b64decode(admin[f"{field}-data"]).decode()
                             for key, field in (("clientCertificateData", "client-certificate"),
                                                ("clientKeyData", "client-key"))}}
    (tmp_path / "credential.json").write_text(json.dumps(credential))
    config = kc.write(tmp_path / "kubeconfig", kc.exec_config(cluster, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "cat",
        "args": [str(tmp_path / "credential.json")], "interactiveMode": "Never"}}))
    code, printed, written = probe(tmp_path, "--context", "exec", "--kubeconfig", str(config))
    assert code == 0, printed
    key_body = credential["status"]["clientKeyData"].splitlines()[1]
    assert key_body not in printed and key_body.encode() not in written
