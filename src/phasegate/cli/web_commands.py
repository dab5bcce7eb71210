"""``phasegate serve``: the web dashboard over the evidence store (optional extra ``web``).

Exit codes: 0 stopped (Ctrl-C), 2 bad input: the extra missing, a host beyond loopback
without --token, a store that does not exist or cannot be opened, a port in use.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phasegate.cli.commands import JsonOption, StoreOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.store.evidence import EvidenceStore

TOKEN_ENV = "PHASEGATE_TOKEN"


def serve(
    host: Annotated[str, typer.Option(
        "--host", help="address to listen on; beyond loopback it needs --token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="port to listen on (0: any free one)")] = 8377,
    token: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--token", help=f"bearer token every request must carry (env "
                     f"{TOKEN_ENV}, which keeps it out of the process list)"),
    ] = None,
    tasks_dir: Annotated[Path, typer.Option(
        "--tasks", help="the tasks directory the task board reads")] = Path("tasks"),
    domains_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--domains", help="the domains file of the domain pages (default: "
                     "domains.yaml here, when there is one)"),
    ] = None,
    refresh: Annotated[float, typer.Option(
        "--refresh", min=0.2, help="seconds between two refreshes of a live page")] = 5.0,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Serve the dashboard: runs, their timelines, evidence and retrospectives, the task
    board, recurring patterns. Read-only."""
    from phasegate.cli import common
    from phasegate.cli.output import Terminal
    from phasegate.errors import PlanError, StoreError

    terminal = Terminal(json_output)
    try:
        import uvicorn

        from phasegate.web import app, settings
    except ImportError as exc:
        terminal.abort(PlanError(f"phasegate serve needs the web extra ({exc.name} is "
                                 "missing): pip install 'phasegate[web]'"))
    secret = token or os.environ.get(TOKEN_ENV) or None
    if not settings.is_loopback(host) and not secret:
        terminal.abort(PlanError(
            f"--host {host} lets other machines reach the dashboard: give it a token "
            f"(--token, or env {TOKEN_ENV}) that every request must carry, or keep the "
            "default 127.0.0.1"))
    if secret:
        from phasegate import secrets

        secrets.register(secret)
    domains = _domains(terminal, domains_file)
    url = store or os.environ.get("PHASEGATE_STORE")
    evidence = common.guarded(terminal, _open_existing, url)
    listening = common.guarded(terminal, _listen, host, port)
    bound = listening.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    terminal.say(f"serving {evidence.describe()} at http://{shown}:{bound}/ "
                 f"({'token required' if secret else 'no token'}; Ctrl-C stops)")
    terminal.emit({"url": f"http://{shown}:{bound}/", "store": evidence.describe(),
                   "token": bool(secret)})
    sys.stdout.flush()  # whoever started it reads the address before the first request
    served = app.create(settings.Settings(evidence.url, tasks_dir, domains_file=domains,
                                                  token=secret, refresh_seconds=refresh), evidence)
    config = uvicorn.Config(served, log_level="warning", access_log=False, lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[listening])
    except StoreError as exc:
        terminal.abort(exc)
    finally:
        listening.close()
        evidence.close()


def _domains(terminal: Terminal, given: Path | None) -> Path | None:
    """The domains file, checked now: a malformed one is bad input before anything listens."""
    from phasegate.cli import common
    from phasegate.domains import loader

    path = given or Path(loader.DEFAULT_FILE)
    if given is None and not path.is_file():
        return None  # no domains here: the dashboard starts at its runs
    common.guarded(terminal, loader.load_domains, path)
    return path


def _open_existing(url: str | None) -> EvidenceStore:
    """The store, for reading; a SQLite file that is not there is a wrong path, not a new
    store to create."""
    from phasegate.errors import StoreError
    from phasegate.store import database
    from phasegate.store.evidence import EvidenceStore

    target = url or database.default_url()
    if "://" not in target:
        target = f"sqlite:///{target}"
    if target.startswith("sqlite:///") and not target.endswith(":memory:"):
        path = Path(database.sqlite_path(target))
        if not path.is_file():
            raise StoreError(f"no evidence store at {path}: give --store (or env "
                             "PHASEGATE_STORE) the store your runs recorded into")
    return EvidenceStore(target, reader=True)


def _listen(host: str, port: int) -> socket.socket:
    from phasegate.errors import PlanError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host.strip("[]"), port))
        listening.listen(128)
    except OSError as exc:
        listening.close()
        raise PlanError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    listening.set_inheritable(True)
    return listening
