"""``phasegate mcp``: the MCP server for agents (the optional extra ``mcp``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from phasegate.cli.commands import ContextOption, KubeconfigOption, StoreOption
from phasegate.cli.workflow_commands import DEFAULT_REPORTS, ReportsOption


def mcp(
    allow_apply: Annotated[bool, typer.Option(
        "--allow-apply", help="let the apply tool change the cluster (with the plan's hash); "
        "read-only without it")] = False,
    port: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--port", help="serve streamable HTTP on this port instead of stdio")] = None,
    host: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--host", help="with --port: listen here (default 127.0.0.1); any address but "
        "loopback needs --token")] = None,
    token: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--token", envvar="PHASEGATE_MCP_TOKEN",
        help="with --port: the bearer token every HTTP request must carry")] = None,
    tasks: Annotated[Path, typer.Option(
        "--tasks", help="the tasks directory the task tools read")] = Path("tasks"),
    domains: Annotated[Path, typer.Option(
        "--domains", help="the domains file the health tool reads")] = Path("domains.yaml"),
    store: StoreOption = None,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    reports: ReportsOption = None,
) -> None:
    """Serve phasegate's tools to an agent over MCP: stdio, or streamable HTTP with --port.

    Tools: probe, check, plan, apply, run_status, evidence, tasks_list, tasks_next,
    tasks_verify, health. Resources: the JSON Schemas and these docs. See docs/agents.md."""
    from phasegate import secrets
    from phasegate.cli import common
    from phasegate.cli.output import Terminal
    from phasegate.errors import PlanError

    terminal = Terminal(json_mode=False, quiet=True)  # stdout may be the protocol: no prints
    if token is not None:
        secrets.register(token)
    if port is None and host is not None:
        terminal.abort(PlanError("--host is for streamable HTTP: give --port too"))
    if port is not None and not 0 < port < 65536:
        terminal.abort(PlanError(f"--port {port}: expected 1 to 65535"))
    try:
        from phasegate.mcp import http, policy, server
    except ImportError as exc:
        terminal.abort(PlanError(f"phasegate mcp needs the 'mcp' extra ({exc.name} is not "
                                 "installed): pip install 'phasegate[mcp]'"))
    bound = host or "127.0.0.1"
    if port is not None:
        common.guarded(terminal, http.check_exposure, bound, token)
    settings = policy.Settings(allow_apply=allow_apply, store=store, kubeconfig=kubeconfig,
                               context=context, reports_dir=reports or DEFAULT_REPORTS,
                               tasks_dir=tasks, domains_file=domains)
    server.quiet_logging(common.options().verbosity)
    app, served = server.build(settings)
    try:
        if port is None:
            common.run_async(terminal, app.run_stdio_async())
        else:
            common.run_async(terminal, http.serve(app, bound, port, token))
    finally:
        served.close()
