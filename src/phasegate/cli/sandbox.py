"""`phasegate sandbox up | down | status`: the local control plane, by hand.

Exit codes: 0 ok, 2 unusable (missing Go or binaries, docker-registry or skopeo for the
registry, a failed start). Errors are one
paragraph, never a traceback. The sandbox package is imported inside the commands so
that `phasegate --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    help="A real local Kubernetes control plane (etcd, kube-apiserver, controller-manager, "
    "scheduler, KWOK fake nodes) to try phasegate or run its tests without a cluster.",
    no_args_is_help=True,
)


class _LazyConsole:
    """Rich is imported on first print, so ``phasegate --help`` never pays for it."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Any = None

    def print(self, *args: Any, **kwargs: Any) -> None:
        if self._console is None:
            from rich.console import Console

            # soft wrap: paths and commands must stay copy-pasteable
            self._console = Console(stderr=self._stderr, soft_wrap=True)
        self._console.print(*args, **kwargs)


err = _LazyConsole(stderr=True)
out = _LazyConsole(stderr=False)

NameOpt = Annotated[str, typer.Option("--name", help="Sandbox name; several may run at once.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


@app.command()
def up(
    nodes: Annotated[int, typer.Option("--nodes", min=1, help="Fake nodes to create.")] = 2,
    name: NameOpt = "default",
    registry: Annotated[
        bool,
        typer.Option(
            "--registry/--no-registry",
            help="Also start a local TLS image registry holding the example images "
            "(needs docker-registry and skopeo).",
        ),
    ] = True,
    real_nodes: Annotated[
        int,
        typer.Option(
            "--real-nodes", min=0,
            help="Real nodes (a kubelet with containerd and runc each) beside the fake ones, "
            "labelled and tainted phasegate.dev/node=real; needs root on Linux.",
        ),
    ] = 0,
    json_output: JsonOpt = False,
) -> None:
    """Start the sandbox (builds the binaries on first use) and wait until pods can run."""
    from phasegate import sandbox

    try:
        info = sandbox.up(
            nodes=nodes,
            name=name,
            registry=registry,
            real_nodes=real_nodes,
            progress=None if json_output else _progress,
        )
    except sandbox.SandboxError as exc:
        _fail(str(exc))
    if json_output:
        print(_document(info.summary()))
        return
    out.print(f"[green]sandbox '{info.name}' is up[/] at {info.api_url}")
    out.print(f"  kubeconfig  {info.kubeconfig}")
    out.print(f"  contexts    {info.admin_context} (cluster admin)")
    out.print(
        f"              {info.restricted_context} (only namespace {info.restricted_namespace})"
    )
    if info.registry:
        out.print(f"  registry    {info.registry} (CA {info.registry_ca}, trusted through")
        out.print(f"              ~/.config/containers/certs.d/{info.registry}/ca.crt)")
    _print_nodes(info)
    out.print(f"  try         kubectl --kubeconfig {info.kubeconfig} get nodes")
    out.print(f"  stop        phasegate sandbox down --name {info.name}")


@app.command()
def down(name: NameOpt = "default", json_output: JsonOpt = False) -> None:
    """Stop the sandbox's processes and remove its files."""
    from phasegate import sandbox

    try:
        stopped = sandbox.down(name)
    except (sandbox.SandboxError, OSError) as exc:
        _fail(f"Stopping sandbox '{name}' failed: {exc}")
    if json_output:
        print(_document({"name": name, "stopped": stopped}))
    elif stopped:
        out.print(f"sandbox '{name}' stopped and removed")
    else:
        out.print(f"no sandbox named '{name}' was running")


@app.command()
def status(json_output: JsonOpt = False) -> None:
    """Say which sandboxes exist and which of their components run."""
    from phasegate import sandbox

    found = sandbox.status()
    if json_output:
        print(_document({"sandboxes": [
            {**s.info.summary(), "running": s.running, "healthy": s.healthy} for s in found]}))
        return
    if not found:
        out.print("no sandbox is running (start one with `phasegate sandbox up`)")
        return
    for s in found:
        state = "[green]healthy[/]" if s.healthy else "[red]degraded[/]"
        out.print(f"sandbox '{s.info.name}' {state} at {s.info.api_url or '-'}")
        out.print(f"  kubeconfig  {s.info.kubeconfig}")
        if s.info.registry:
            out.print(f"  registry    {s.info.registry}")
        _print_nodes(s.info)
        for comp, alive in s.running.items():
            out.print(f"  {comp:<24} {'running' if alive else '[red]not running[/]'}")


def _print_nodes(info: Any) -> None:
    out.print(f"  nodes       {info.nodes} fake (KWOK: pods are marked Running, nothing runs)")
    for node, bridge in sorted(info.real_nodes.items()):
        out.print(f"              {node}: real (kubelet + containerd + runc, bridge {bridge}; "
                  "pods need the phasegate.dev/node=real toleration and selector)")


def _document(document: dict[str, Any]) -> str:
    from phasegate.cli import documents

    return json.dumps(documents.stamped(document))


def _progress(message: str) -> None:
    err.print(f"[dim]sandbox:[/] {message}")


def _fail(message: str) -> NoReturn:
    # Text, not markup: log lines quoted in the message may contain [brackets].
    from rich.text import Text

    err.print(Text.assemble(("error: ", "red"), message), highlight=False)
    raise typer.Exit(2)
