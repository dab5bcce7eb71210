"""The Temporal engine's commands: ``run --engine temporal`` (its start), ``worker``,
``approve``, ``reject`` and ``cancel``. temporalio is imported inside each command, so
``phasegate --help`` stays fast and works without the ``temporal`` extra."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer

from phasegate.cli import exit_codes
from phasegate.cli.commands import JsonOption, StoreOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.plan.model import Plan
    from phasegate.temporal import client, steps
    from phasegate.workflow.pipeline import RunOptions, RunResult

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., None])


@contextlib.contextmanager
def hard_exit() -> Iterator[None]:
    """Leave the process at the end of the block, skipping CPython's finalization: the
    Rust threads of a temporalio client can abort it (SIGABRT, "PyGILState_Release",
    temporalio/sdk-python#300) after everything was done and said. Exit handlers run."""
    import atexit
    import os
    import sys

    code = 0
    try:
        yield
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def leaves_hard(command: F) -> F:
    """A command that talks to Temporal leaves through :func:`hard_exit`."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        with hard_exit():
            command(*args, **kwargs)

    return run  # type: ignore[return-value]

EngineOption = Annotated[str, typer.Option(
    "--engine", help="local (in this process, the default) or temporal (workflows on a "
    "Temporal server, run by `phasegate worker`)")]
AddressOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--temporal", envvar="PHASEGATE_TEMPORAL", show_envvar=False,
    help="the Temporal server, HOST:PORT (env PHASEGATE_TEMPORAL; default localhost:7233)")]
NamespaceOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--namespace", envvar="PHASEGATE_TEMPORAL_NAMESPACE", show_envvar=False,
    help="the Temporal namespace (env PHASEGATE_TEMPORAL_NAMESPACE; default: default)")]
QueueOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--task-queue", envvar="PHASEGATE_TASK_QUEUE", show_envvar=False,
    help="the task queue workers serve (env PHASEGATE_TASK_QUEUE; default: phasegate)")]
WaitOption = Annotated[bool, typer.Option(
    "--wait", help="with --engine temporal: follow the run to its end (otherwise the run id "
    "is printed at once)")]
RunArgument = Annotated[str, typer.Argument(metavar="RUN", help="the run id")]


def where(address: str | None, namespace: str | None, queue: str | None) -> client.Where:
    from phasegate.temporal import client, steps

    return client.Where(address or steps.DEFAULT_ADDRESS, namespace or steps.DEFAULT_NAMESPACE,
                        queue or steps.DEFAULT_TASK_QUEUE)


def start(terminal: Terminal, plan: Plan, options: RunOptions, at: client.Where,
          wait: bool) -> RunResult | None:
    """``run --engine temporal``: one workflow per run (its id is the run id); with
    ``wait`` the run's result once it ends, as the local engine returns it."""
    from phasegate.temporal import client

    async def started() -> tuple[str, steps.RunState | None]:
        connected = await client.connect(at)
        spec = client.spec_for(plan, options, at)
        await client.start(connected, spec, at)
        if not wait:
            return spec.run_id, None
        terminal.progress(f"run {spec.run_id} started on Temporal ({at.address}, task queue "
                          f"{at.task_queue})")
        return spec.run_id, await client.follow(connected, spec.run_id, terminal.progress)

    run_id, final = until_done(terminal, started(), following=True)
    if final is None:
        terminal.print(f"run {run_id} started on Temporal ({at.address}, task queue "
                       f"{at.task_queue}); follow it with `phasegate show {run_id}`")
        terminal.emit({"run_id": run_id, "status": "running", "engine": "temporal"})
        return None
    if final.status in ("interrupted", "error"):
        terminal.emit({"run_id": final.run_id, "status": final.status,
                       "stopped_at": final.stopped_at, "detail": final.detail})
        code = exit_codes.INTERRUPTED if final.status == "interrupted" else exit_codes.BAD_INPUT
        at_stage = f" at {final.stopped_at}" if final.stopped_at else ""
        terminal.abort(RuntimeError(f"run {final.run_id} {final.status}{at_stage}: "
                                    f"{final.detail}"), code)
    return client.as_result(final)


@leaves_hard
def worker(
    address: AddressOption = None, namespace: NamespaceOption = None, queue: QueueOption = None,
    store: StoreOption = None,
    deployment: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--deployment", help="worker versioning: the worker deployment this worker is a "
        "version of (with --build-id)")] = None,
    build_id: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--build-id", help="worker versioning: this worker's version (runs stay pinned to "
        "the version they started on)")] = None,
) -> None:
    """Run the Temporal engine's workflows and activities until stopped (Ctrl-C)."""
    from phasegate.cli import common
    from phasegate.temporal import worker as serving

    terminal = _terminal(False)
    evidence = common.guarded(terminal, common.open_store, store)
    at = where(address, namespace, queue)
    until_done(terminal, serving.serve(at, evidence, deployment=deployment, build_id=build_id,
                                 ready=terminal.print))


@leaves_hard
def approve(run: RunArgument,
            plan_hash: Annotated[str, typer.Argument(metavar="HASH",
                                                     help="the plan hash the run's preview "
                                                     "computed")],
            address: AddressOption = None, namespace: NamespaceOption = None,
            json_output: JsonOption = False) -> None:
    """Approve a run waiting at stage P, by the hash of the preview you reviewed."""
    _decide(run, {"approve": True, "hash": plan_hash}, address, namespace, json_output)


@leaves_hard
def reject(run: RunArgument,
           reason: Annotated[str, typer.Option("--reason", help="why (kept as evidence)")],
           address: AddressOption = None, namespace: NamespaceOption = None,
           json_output: JsonOption = False) -> None:
    """Reject a run waiting at stage P; it stops there, refused, with your reason."""
    _decide(run, {"approve": False, "reason": reason}, address, namespace, json_output)


@leaves_hard
def cancel(run: RunArgument, address: AddressOption = None, namespace: NamespaceOption = None,
           json_output: JsonOption = False) -> None:
    """Stop a run on Temporal as Ctrl-C stops a local one: the step running now stops,
    tracers are cleaned up, and the run is recorded as interrupted."""
    from phasegate.temporal import client

    terminal = _terminal(json_output)
    at = where(address, namespace, None)

    async def cancelled() -> steps.RunState:
        return await client.cancel(await client.connect(at), run)

    final = until_done(terminal, cancelled())
    terminal.print(f"run {final.run_id} {final.status}"
                   + (f" at {final.stopped_at}" if final.stopped_at else "")
                   + (f": {final.detail}" if final.detail else ""))
    terminal.emit({"run_id": final.run_id, "status": final.status,
                   "stopped_at": final.stopped_at, "detail": final.detail})


def _decide(run: str, decision: dict[str, Any], address: str | None, namespace: str | None,
            json_output: bool) -> None:
    import getpass

    from phasegate.temporal import client, steps

    terminal = _terminal(json_output)
    at = where(address, namespace, None)

    async def decided() -> str:
        return await client.decide(await client.connect(at), run,
                                   steps.Decision(who=getpass.getuser(), **decision))

    answer = until_done(terminal, decided())
    terminal.print(f"run {run} {answer}")
    terminal.emit({"run_id": run, "decision": answer})


def live(terminal: Terminal, run_id: str, meta: dict[str, Any]) -> dict[str, Any] | None:
    """A running run's live state, asked of its workflow (``show``); None, with a note,
    when it cannot be asked."""
    from phasegate.errors import PhasegateError

    try:
        from phasegate.temporal import client
    except ImportError:
        terminal.note("live state: the run is on Temporal; install 'phasegate[temporal]'")
        return None
    kept = meta.get("temporal") or {}
    at = where(kept.get("address"), kept.get("namespace"), kept.get("task_queue"))

    async def asked() -> steps.RunState:
        return await client.state(await client.connect(at), run_id)

    try:
        now = asyncio.run(asked())
    except PhasegateError as exc:
        terminal.note(f"live state unavailable: {exc}")
        return None
    said = f"live: {now.status}, stage {now.stage or '-'}"
    if now.status == "awaiting approval":
        said += (f" — review the plan preview (`phasegate evidence {run_id}`), then "
                 f"`phasegate approve {run_id} {now.plan_hash}` or `phasegate reject "
                 f"{run_id} --reason …`")
    terminal.say(said)
    return {"status": now.status, "stage": now.stage, "plan_hash": now.plan_hash,
            "lines": now.lines}


def _terminal(json_output: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_output)


def until_done(terminal: Terminal, work: Coroutine[Any, Any, T], *,
               following: bool = False) -> T:
    """``work`` to its end; phasegate errors leave with exit 2. Ctrl-C stops only this
    client: the run goes on on the server."""
    from phasegate.cli import signals
    from phasegate.errors import PhasegateError

    signals.stop_at_safe_points()
    try:
        result: T = asyncio.run(work)
    except PhasegateError as exc:
        terminal.abort(exc, exc.exit_code)
    except KeyboardInterrupt:
        said = ("stopped following: the run goes on (stop it with `phasegate cancel RUN`)"
                if following else "interrupted")
        terminal.abort(KeyboardInterrupt(said), exit_codes.INTERRUPTED)
    finally:
        signals.leave_quietly()
    return result
