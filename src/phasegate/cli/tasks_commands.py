"""``phasegate tasks``: the queue, verification, attestation, start and complete.

Exit codes: 0 done (or every criterion verified), 1 a criterion failed or a move was
refused, 2 bad input (a malformed task file, an unknown id, a cycle).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from phasegate.cli import exit_codes
from phasegate.cli.commands import (
    ContextOption,
    InputOption,
    JsonOption,
    KubeconfigOption,
    StoreOption,
    TimeoutOption,
)

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.tasks.model import Task
    from phasegate.tasks.queue import Queue
    from phasegate.tasks.verify import Result

DirOption = Annotated[
    Path, typer.Option("--dir", "-d", help="the tasks directory (backlog/, active/, completed/)")
]
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="the task's id")]
DEFAULT_DIR = Path("tasks")

app = typer.Typer(
    help="Tasks whose acceptance criteria are probes: the queue, verify, attest, start, "
    "complete.",
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_MARKS = {"passed": "[green]✔ verified[/]", "failed": "[red]✘ failed[/]",
          "error": "[red]✘ error[/]", "attested": "[cyan]✎ attested[/]",
          "needs attestation": "[yellow]… needs attestation[/]",
          "never verified": "[yellow]… never verified[/]",
          "blocked": "[yellow]⏸ blocked[/]"}


@app.callback()
def queue(
    ctx: typer.Context,
    directory: DirOption = DEFAULT_DIR,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """The priority queue (priority, then age), blocked tasks with their blockers."""
    if ctx.invoked_subcommand is None:
        list_tasks(directory, store, json_output)
        return
    # `tasks -d DIR verify X` means DIR for verify too; an option given after the
    # subcommand still wins, as click lets explicit values beat the default map.
    given = {name: value for name, value in
             (("directory", directory), ("store", store), ("json_output", json_output))
             if _given_on_the_line(ctx, name)}
    ctx.default_map = {ctx.invoked_subcommand: given}


def _given_on_the_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    # typer vendors its own click: compare by name, not by another module's enum
    return source is not None and source.name != "DEFAULT"


@app.command("list")
def list_tasks(
    directory: DirOption = DEFAULT_DIR,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """The priority queue (priority, then age), blocked tasks with their blockers."""
    from phasegate.cli import common
    from phasegate.tasks import queue as task_queue
    from phasegate.tasks import verify

    terminal = _terminal(json_output)
    tasks, built = common.guarded(terminal, task_queue.load, directory)
    evidence = common.guarded(terminal, common.open_store, store)
    states = common.guarded(terminal, verify.all_states, evidence, tasks)
    if not tasks:
        terminal.print(f"no tasks in {directory} (put task files in {directory}/backlog/)")
    else:
        terminal.render(_queue_table(built, states))
        if built.blocked:
            terminal.print("\n[bold]blocked[/]")
            for entry in built.blocked:
                terminal.print(f"  {entry.task.id} waits for {', '.join(entry.blockers)}")
        nxt = built.next()
        if nxt is not None:
            terminal.print(f"\nnext: [bold]{nxt.task.id}[/] — {_escape(nxt.task.title)}")
    terminal.emit({"directory": str(directory), "queue": [
        _task_doc(e.task, states[e.task.id], list(e.blockers)) for e in built.ready],
        "blocked": [_task_doc(e.task, states[e.task.id], list(e.blockers))
                    for e in built.blocked],
        "completed": [_task_doc(t, states[t.id], []) for t in built.completed]})


@app.command("next")
def next_task(
    directory: DirOption = DEFAULT_DIR,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """The task to work on next: the first unblocked one in the queue."""
    from phasegate.cli import common
    from phasegate.tasks import queue as task_queue
    from phasegate.tasks import verify

    terminal = _terminal(json_output)
    _tasks, built = common.guarded(terminal, task_queue.load, directory)
    entry = built.next()
    if entry is None:
        terminal.print("nothing to do: every open task is blocked or the queue is empty")
        terminal.emit({"next": None})
        return
    evidence = common.guarded(terminal, common.open_store, store)
    results = verify.current(entry.task, verify.states(evidence, entry.task))
    counted = verify.tally(results)
    task = entry.task
    terminal.print(f"[bold]{task.id}[/] — {_escape(task.title)} ({task.priority}, "
                   f"{task.folder}; {counted.sentence()})")
    terminal.print(f"  file: {task.path}")
    if task.folder == "backlog":
        terminal.print(f"  start it: phasegate tasks start {task.id}")
    terminal.emit({"next": _task_doc(task, results, [])})


@app.command("show")
def show(
    task_id: IdArgument,
    directory: DirOption = DEFAULT_DIR,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """One task: its criteria with what the evidence says of each, blockers, progress log."""
    from phasegate.cli import common
    from phasegate.reports import clock
    from phasegate.tasks import files, verify
    from phasegate.tasks import queue as task_queue

    terminal = _terminal(json_output)
    tasks = common.guarded(terminal, files.load_dir, directory)
    task = common.guarded(terminal, files.find, directory, task_id, tasks)
    evidence = common.guarded(terminal, common.open_store, store)
    results = verify.current(task, verify.states(evidence, task))
    counted = verify.tally(results)
    blockers = [b for b in task.blocked_by if not _done(tasks, b)]
    cycle = task_queue.find_cycle(tasks)
    terminal.print(f"[bold]{task.id}[/] — {_escape(task.title)}")
    terminal.print(f"priority {task.priority} · {task.folder} · created "
                   f"{task.created:%Y-%m-%d} · {task.path}")
    if blockers:
        terminal.print(f"[yellow]blocked by {', '.join(blockers)}[/]")
    if cycle and task.id in cycle:
        terminal.print(f"[red]in a dependency cycle: {' → '.join(cycle)}[/]")
    terminal.render(_criteria_table(results))
    terminal.print(counted.sentence())
    log = _progress_log(task.path)
    if log:
        terminal.print("\n[bold]progress log[/]")
        for line in log[-10:]:
            terminal.print(f"  {_escape(line)}")
    terminal.emit({**_task_doc(task, results, blockers), "log": log,
                   "checked": clock.now().isoformat()})


@app.command("verify")
def verify_task(
    task_id: IdArgument,
    directory: DirOption = DEFAULT_DIR,
    inputs: InputOption = None,
    timeout: TimeoutOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run every criterion's probe, record the evidence, log it in the task file.

    Exit 0 when no criterion fails, 1 when one does."""
    from phasegate.cli import common
    from phasegate.plan import inputs as plan_inputs
    from phasegate.tasks import files, verify

    terminal = _terminal(json_output)
    values = common.guarded(terminal, plan_inputs.parse_input_args, inputs or [])
    task = common.guarded(terminal, files.find, directory, task_id)
    seconds = common.parse_timeout(terminal, timeout)
    evidence = common.guarded(terminal, common.open_store, store)
    with terminal.waits(f"verifying {len(task.criteria)} criteria of {task.id} …") as display:
        result = common.run_async(terminal, verify.verify(
            task, directory, evidence, values, seconds, context=context, kubeconfig=kubeconfig,
            on_wait=display))
    terminal.print(f"[bold]{task.id}[/] — {_escape(task.title)}")
    terminal.render(_criteria_table(result.results))
    style = "green" if result.passed else "red"
    terminal.print(f"[{style}]{result.tally.sentence()}[/]")
    terminal.print(f"evidence: run [bold]{result.run_id}[/] in {evidence.describe()} "
                   f"(phasegate evidence {result.run_id} --format md)")
    terminal.emit({"run_id": result.run_id, "task": task.id, "passed": result.passed,
                   "summary": result.tally.sentence(), "tally": result.tally.to_dict(),
                   "criteria": [r.to_dict() for r in result.results]})
    raise SystemExit(exit_codes.PASSED if result.passed else exit_codes.GATE_FAILED)


@app.command("attest")
def attest(
    task_id: IdArgument,
    number: Annotated[int, typer.Argument(metavar="N", help="the criterion's number (1-based)")],
    reason: Annotated[str, typer.Option("--reason", help="what was checked, by whom, where")],
    by: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--by", help="who attests (default: the login name)"),
    ] = None,
    directory: DirOption = DEFAULT_DIR,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Vouch for a criterion no probe can check ('verify: attest'); counted apart."""
    from phasegate.cli import common
    from phasegate.tasks import files, verify

    terminal = _terminal(json_output)
    task = common.guarded(terminal, files.find, directory, task_id)
    evidence = common.guarded(terminal, common.open_store, store)
    run_id, result = common.guarded(terminal, verify.attest, task, number, reason, evidence, by)
    terminal.print(f"criterion {number} of {task.id} attested by {_escape(result.by)}: "
                   f"{_escape(result.observed)} (run {run_id}; attested, not verified)")
    terminal.emit({"run_id": run_id, "task": task.id, "criterion": result.to_dict()})


@app.command("start")
def start(
    task_id: IdArgument,
    directory: DirOption = DEFAULT_DIR,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move a task to active/; refused (exit 1) while a blocker is not completed."""
    from phasegate.cli import common
    from phasegate.tasks import lifecycle

    terminal = _terminal(json_output)
    evidence = common.guarded(terminal, common.open_store, store)
    outcome = common.guarded(terminal, lifecycle.start, directory, task_id, evidence)
    if outcome.status == "refused":
        terminal.print(f"[red]cannot start {outcome.task.id}[/]: "
                       + _escape("; ".join(outcome.reasons)))
    elif outcome.status == "unchanged":
        terminal.print(f"{outcome.task.id} is already active ({outcome.path})")
    else:
        terminal.print(f"[green]started {outcome.task.id}[/]: {outcome.path}")
    _emit_outcome(terminal, outcome)


@app.command("complete")
def complete(
    task_id: IdArgument,
    within: Annotated[str, typer.Option(
        "--within", help="every criterion must have passed this recently (freshness window)")
    ] = "1h",
    commit: Annotated[bool, typer.Option("--commit", help="commit the move in git")] = False,
    directory: DirOption = DEFAULT_DIR,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move a task to completed/ — refused (exit 1) unless every criterion passed within
    the window and every 'attest' criterion was attested."""
    from phasegate.cli import common
    from phasegate.errors import PlanError
    from phasegate.tasks import lifecycle

    terminal = _terminal(json_output)
    try:
        from phasegate.durations import parse_duration

        window = parse_duration(within)
    except ValueError as exc:
        terminal.abort(PlanError(f"--within: {exc}"))
    evidence = common.guarded(terminal, common.open_store, store)
    outcome = common.guarded(terminal, lifecycle.complete, directory, task_id, evidence,
                             window=window, commit=commit)
    if outcome.status == "refused":
        terminal.print(f"[red]cannot complete {outcome.task.id}[/]:")
        for reason in outcome.reasons:
            terminal.print(f"  - {_escape(reason)}")
        if outcome.tally:
            terminal.print(outcome.tally.sentence())
    else:
        terminal.print(f"[green]completed {outcome.task.id}[/]: "
                       f"{outcome.tally.sentence() if outcome.tally else ''} → {outcome.path}")
        if outcome.commit:
            terminal.print(f"committed {outcome.commit[:12]}")
    _emit_outcome(terminal, outcome)


def _emit_outcome(terminal: Terminal, outcome: Any) -> None:
    terminal.emit({"run_id": outcome.run_id, "task": outcome.task.id, "status": outcome.status,
                   "path": str(outcome.path), "reasons": list(outcome.reasons),
                   "tally": outcome.tally.to_dict() if outcome.tally else None,
                   "commit": outcome.commit})
    raise SystemExit(exit_codes.PASSED if outcome.passed else exit_codes.GATE_FAILED)


def _terminal(json_output: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_output)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _done(tasks: list[Task], task_id: str) -> bool:
    return any(t.id == task_id and t.done for t in tasks)


def _progress_log(path: Path) -> list[str]:
    from phasegate.errors import PlanError
    from phasegate.tasks import files

    try:
        _front, body = files.split(files.read_text(path), str(path))
    except PlanError:
        return []
    lines = body.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if line.lstrip("#").strip().lower() == "progress log"
                  and line.startswith("#")), None)
    if start is None:
        return []
    found = []
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        if line.startswith("- "):
            found.append(line[2:])
    return found


def _task_doc(task: Task, results: tuple[Result, ...], blockers: list[str]) -> dict[str, Any]:
    from phasegate.tasks import snapshot

    return snapshot.document(task, results, blockers)


def _queue_table(built: Queue, states: dict[str, tuple[Result, ...]]) -> Any:
    from phasegate.cli import fitted
    from phasegate.tasks import verify

    table = []
    rows = [*built.ready, *built.blocked]
    for index, entry in enumerate(rows, start=1):
        task = entry.task
        counted = verify.tally(states[task.id])
        verified = f"{counted.verified}/{counted.total} ({counted.percent}%)" if counted.total \
            else "no criteria"
        if counted.attested:
            verified += f" +{counted.attested} attested"
        if counted.blocked:
            verified += f", {counted.blocked} blocked by {', '.join(counted.blockers)}"
        table.append([str(index) if not entry.blocked else "—", task.id, task.priority,
                      task.folder, verified, _escape(task.title),
                      ", ".join(entry.blockers) or ""])
    return fitted.Fitted(["#", "task", "priority", "where", "verified", "title", "waits for"],
                         table, whole=(0, 1, 2, 3))


def _criteria_table(results: tuple[Result, ...]) -> Any:
    from phasegate.cli import fitted
    from phasegate.reports import clock

    table = []
    for result in results:
        c = result.criterion
        when = clock.ago(result.at) if result.at else ""
        table.append([str(c.number), _escape(c.text), c.kind,
                      _MARKS.get(result.status, result.status), _escape(result.observed), when])
    return fitted.Fitted(["#", "criterion", "check", "result", "observed", "when"], table,
                         whole=(0, 3))
