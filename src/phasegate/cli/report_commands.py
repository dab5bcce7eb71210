"""``phasegate report session``, ``phasegate retro RUN`` and ``phasegate patterns``:
reports generated from what the evidence store recorded (Markdown for people, JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from phasegate.cli.commands import JsonOption, StoreOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal

FormatOption = Annotated[str, typer.Option("--format", "-f", help="md or json")]
OutputOption = Annotated[
    Optional[Path], typer.Option("--output", "-o", help="write to this file")  # noqa: UP045
]

app = typer.Typer(
    help="Reports generated from the evidence store.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command("session")
def session(
    since: Annotated[str, typer.Option(
        "--since", help="from this long ago (6h, 90m) or this time (2026-11-23T09:00)")] = "6h",
    until: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--until", help="up to this time or this long ago (default: now)"),
    ] = None,
    directory: Annotated[Path, typer.Option(
        "--dir", "-d", help="the tasks directory (blocked tasks, next priorities, backlog)")
    ] = Path("tasks"),
    fmt: FormatOption = "md",
    output: OutputOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """The session report: summary, tasks processed, verification results with evidence,
    timeline, metrics, critical issues and their resolution, blocked tasks, next priorities,
    backlog status."""
    from phasegate.cli import common
    from phasegate.errors import PlanError
    from phasegate.reports import clock
    from phasegate.reports import session as session_report

    terminal = _terminal(json_output)
    _check_format(terminal, fmt)
    now = clock.now()
    try:
        start = clock.moment(since, now)
        end = clock.moment(until, now) if until else now
    except ValueError as exc:
        terminal.abort(PlanError(f"--since/--until: {exc}"))
    if end < start:
        terminal.abort(PlanError(f"--until ({until}) is before --since ({since})"))
    evidence = common.guarded(terminal, common.open_store, store)
    runs = common.guarded(terminal, evidence.find_runs, since=start, until=end,
                          oldest_first=True)
    bundles = [common.guarded(terminal, evidence.load, r.id) for r in runs]
    snapshot = None
    if directory.is_dir():
        from phasegate.tasks import snapshot as tasks_snapshot

        snapshot = common.guarded(terminal, tasks_snapshot.take, directory, evidence)
    facts = session_report.collect(bundles, start, end, snapshot)
    _deliver(terminal, facts, session_report.markdown(facts), fmt, output, "session report")


def retro(
    run: Annotated[str, typer.Argument(metavar="RUN",
                                       help="run id, a unique prefix of one, or 'latest'")],
    budget: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--budget", help="STAGE=DURATION (I=10m, total=15m); repeatable; "
                     "overrides the plan's budget.* labels"),
    ] = None,
    fmt: FormatOption = "md",
    output: OutputOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """The retrospective of a run: what went well, what could have been better, plan
    alignment, metrics, recommendations, follow-up actions."""
    from phasegate.cli import common
    from phasegate.reports import retro as retro_report

    terminal = _terminal(json_output)
    _check_format(terminal, fmt)
    budgets = _budgets(terminal, budget or [])
    evidence = common.guarded(terminal, common.open_store, store)
    bundle = common.guarded(terminal, evidence.load, run)
    facts = retro_report.collect(bundle, retro_report.plan_facts(bundle), budgets)
    _deliver(terminal, facts, retro_report.markdown(facts), fmt, output, "retrospective")


def patterns(
    directory: Annotated[Path, typer.Option(
        "--out", help="where PATTERNS.md and IMPROVEMENTS.md are maintained")] = Path("."),
    min_runs: Annotated[int, typer.Option(
        "--min-runs", min=1, help="a signature recurs when seen in this many runs")] = 2,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Mine every run and verification for failure signatures that recur; maintain
    PATTERNS.md and IMPROVEMENTS.md (stable IDs, never a duplicate entry)."""
    from phasegate.cli import common
    from phasegate.errors import PlanError
    from phasegate.reports import clock
    from phasegate.reports import patterns as mined

    terminal = _terminal(json_output)
    evidence = common.guarded(terminal, common.open_store, store)
    failures = common.guarded(terminal, evidence.failures)
    found = mined.group(mined.occurrences(failures), min_runs)
    try:
        kept = mined.maintain(directory, found)
    except OSError as exc:
        terminal.abort(PlanError(f"cannot write {directory}: {exc.strerror}"))
    if not found:
        terminal.print(f"no failure signature recurs in {min_runs}+ runs of "
                       f"{evidence.describe()}")
    for pattern in kept.patterns:
        mark = "[yellow]new[/] " if pattern.new else ""
        terminal.print(f"{mark}[bold]{pattern.id}[/] {pattern.kind} · {_escape(pattern.reason)}"
                       f" — {pattern.runs} runs, last {clock.ago(pattern.last)}")
    terminal.print(f"wrote {kept.files['patterns']} and {kept.files['improvements']}")
    terminal.emit({"patterns": [p.to_dict() for p in kept.patterns],
                   "improvements": [{k: v for k, v in i.items() if k != "extra"}
                                    for i in kept.improvements],
                   "files": kept.files})


def _terminal(json_output: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_output)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _check_format(terminal: Terminal, fmt: str) -> None:
    from phasegate.errors import PlanError

    if fmt not in ("md", "json"):
        terminal.abort(PlanError(f"--format {fmt!r}: expected md or json"))


def _budgets(terminal: Terminal, values: list[str]) -> dict[str, float]:
    from phasegate.durations import parse_duration
    from phasegate.errors import PlanError

    budgets = {}
    for value in values:
        stage, _, duration = value.partition("=")
        try:
            if not stage or not duration:
                raise ValueError(f"expected STAGE=DURATION such as I=10m, got {value!r}")
            budgets[stage.strip()] = parse_duration(duration)
        except ValueError as exc:
            terminal.abort(PlanError(f"--budget: {exc}"))
    return budgets


def _deliver(terminal: Terminal, facts: dict[str, Any], text: str, fmt: str,
             output: Path | None, what: str) -> None:
    import json

    from phasegate.cli import common, documents

    facts = documents.stamped(facts)  # -f json is the --json document, written elsewhere
    rendered = text if fmt == "md" else json.dumps(facts, indent=2, default=str) + "\n"
    if output is None:
        if terminal.json_mode:
            terminal.emit(facts)
        else:
            from phasegate import secrets

            typer.echo(secrets.mask(rendered), nl=False)
        return
    common.write_output(terminal, output, rendered)
    terminal.print(f"wrote the {what} to {output}")
    terminal.emit({"path": str(output), "format": fmt, **facts})
