"""The commands. Each parses options, calls the workflow, and prints through the Terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from phasegate.cli import exit_codes
from phasegate.cli.common_options import (
    ContextOption,
    JsonOption,
    KubeconfigOption,
    StoreOption,
)

__all__ = ["ContextOption", "JsonOption", "KubeconfigOption", "StoreOption"]  # shared

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.store.records import RunBundle
    from phasegate.workflow.single_gate import StageResult

TimeoutOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--timeout", help="wait as a gate does, up to this long (30s, 2m)"),
]
InputOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--input", "-i", help="@values.yaml, key=value, key=@file, or "
                 "@b64:file / key=@b64:file (base64, a secret); repeatable"),
]


def _terminal(json_mode: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_mode)


def probe(
    spec: Annotated[str, typer.Argument(help="a probe as YAML/JSON, e.g. '{tcp: {host: h, "
                                        "port: 80}}', or @file.yaml; ${env:NAME} and "
                                        "${input.key} are expanded as in plans")],
    inputs: InputOption = None,
    timeout: TimeoutOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    namespace: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--namespace", "-n", help="default namespace for Kubernetes probes"),
    ] = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Ask reality one question. Exit 0 when the probe passes, 1 when it does not."""
    from phasegate.cli import common, telemetry
    from phasegate.plan import inputs as plan_inputs
    from phasegate.workflow import adhoc

    terminal = _terminal(json_output)
    values = common.guarded(terminal, plan_inputs.parse_input_args, inputs or [])
    call = common.guarded(terminal, adhoc.parse, spec, values)
    seconds = common.parse_timeout(terminal, timeout)
    evidence = common.guarded(terminal, common.open_store, store)
    with telemetry.exported(terminal, evidence):
        with terminal.waits(f"probing {call.name} …") as display:
            result = common.run_async(terminal, adhoc.probe(
                call, evidence, seconds, context=context, kubeconfig=kubeconfig,
                namespace=namespace, on_wait=display))
        _finish(terminal, result, evidence.describe())


def check(
    plan: Annotated[Path, typer.Argument(help="the plan file")],
    inputs: InputOption = None,
    timeout: TimeoutOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stage R: check every assumption the plan makes, read-only and concurrently."""
    from phasegate.cli import common, telemetry
    from phasegate.plan import inputs as plan_inputs
    from phasegate.plan.loader import load_plan
    from phasegate.workflow import check as stage

    terminal = _terminal(json_output)
    values = common.guarded(terminal, plan_inputs.parse_input_args, inputs or [])
    loaded = common.guarded(terminal, load_plan, plan, values)
    seconds = common.parse_timeout(terminal, timeout)
    evidence = common.guarded(terminal, common.open_store, store)
    count = len(common.guarded(terminal, stage.assumption_calls, loaded))
    terminal.print(f"[bold]R · reality check[/] of plan [bold]{loaded.metadata.name}[/]: "
                   f"{count} assumption{'s' if count != 1 else ''}")
    with telemetry.exported(terminal, evidence):
        with terminal.waits(f"checking {count} assumptions …") as display:
            result = common.run_async(
                terminal, stage.check(loaded, evidence, seconds, display.observed,
                                      context=context, kubeconfig=kubeconfig, on_wait=display)
            )
        _finish(terminal, result, evidence.describe())


TABLE_LIMIT = 40


def _finish(terminal: Terminal, result: StageResult, store_name: str) -> None:
    from phasegate.cli import render

    gate = result.gate
    shown = list(gate.finals)
    if len(shown) > TABLE_LIMIT:  # a wall of green rows hides the red ones
        shown = [o for o in gate.finals if not o.passed][:TABLE_LIMIT]
    if shown:
        terminal.render(render.observations_table(shown))
    if len(shown) < len(gate.finals):
        terminal.print(f"{len(gate.finals) - len(shown)} more checks not shown "
                       f"(all of them: phasegate show {result.run_id})")
    terminal.print(render.gate_summary(gate))
    terminal.print(f"evidence: run [bold]{result.run_id}[/] in {store_name} "
                   f"(phasegate evidence {result.run_id} --format md)")
    terminal.emit(
        {
            "run_id": result.run_id,
            "outcome": gate.outcome,
            "passed": gate.passed,
            "duration": round(gate.duration, 3),
            # built only for --json: 10,000 deep copies cost seconds nobody reads
            "observations": [o.to_dict() for o in gate.finals] if terminal.json_mode else [],
            "attempts": len(gate.observations),
        }
    )
    if gate.outcome == "error":
        raise SystemExit(exit_codes.BAD_INPUT)
    raise SystemExit(exit_codes.PASSED if gate.passed else exit_codes.GATE_FAILED)


def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", help="how many, newest first")] = 20,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """List recorded runs, newest first."""
    from phasegate.cli import common, render

    terminal = _terminal(json_output)
    evidence = common.guarded(terminal, common.open_store, store)
    found = common.guarded(terminal, evidence.runs, limit)
    if not found:
        terminal.print(f"no runs recorded yet in {evidence.describe()}")
    else:
        terminal.render(render.runs_table(found))
    terminal.emit({"runs": [
        {"id": r.id, "command": r.command, "plan": r.plan_name, "status": r.status,
         "started": r.started.isoformat(),
         "finished": r.finished.isoformat() if r.finished else None, "summary": r.summary}
        for r in found
    ]})


def show(
    run: Annotated[str, typer.Argument(help="run id, a unique prefix of one, or 'latest'")],
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one run: its steps and what each probe observed."""
    from phasegate.cli import common, render

    terminal = _terminal(json_output)
    evidence = common.guarded(terminal, common.open_store, store)
    bundle = common.guarded(terminal, evidence.load, run)
    record = bundle.run
    terminal.print(f"[bold]run {record.id}[/] · {record.command}"
                   + (f" · plan {record.plan_name}" if record.plan_name else "")
                   + f" · {render.styled_status(record.status)}")
    if record.summary:
        terminal.say(record.summary)
    if record.meta.get("engine") == "temporal" and record.status == "running":
        from phasegate.cli import temporal_commands

        with temporal_commands.hard_exit():
            _show_steps(terminal, bundle, temporal_commands.live(terminal, record.id,
                                                                record.meta))
    _show_steps(terminal, bundle, None)


def _show_steps(terminal: Terminal, bundle: RunBundle, live: dict[str, Any] | None) -> None:
    from phasegate.cli import render

    for step in bundle.steps:
        terminal.print("")
        terminal.say(f"{step.stage} · {step.name} — {step.status}"
                     + (f" ({step.detail})" if step.detail else ""))
        terminal.render(render.observations_table(step.observations))
    terminal.emit({**render.run_document(bundle), **({"live": live} if live else {})})


def evidence(
    run: Annotated[str, typer.Argument(help="run id, a unique prefix of one, or 'latest'")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, json, junit or html")] = "md",
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="write to this file")  # noqa: UP045
    ] = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Export a run's evidence as Markdown, JSON, JUnit XML or HTML."""
    from phasegate import reports
    from phasegate.cli import common
    from phasegate.errors import PlanError

    terminal = _terminal(json_output)
    if fmt not in reports.FORMATS:
        terminal.abort(PlanError(f"--format {fmt!r}: expected one of {', '.join(reports.FORMATS)}"))
    store_handle = common.guarded(terminal, common.open_store, store)
    bundle = common.guarded(terminal, store_handle.load, run)
    text = reports.render(bundle, fmt)
    if output is None:
        if json_output:
            terminal.emit({"run_id": bundle.run.id, "format": fmt, "content": text})
        else:
            typer.echo(text, nl=False)
        return
    common.write_output(terminal, output, text)
    terminal.print(f"wrote {fmt} evidence of run {bundle.run.id} to {output}")
    terminal.emit({"run_id": bundle.run.id, "format": fmt, "path": str(output)})


def schema(
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="write to this file")  # noqa: UP045
    ] = None,
    kind: Annotated[str, typer.Option(
        "--for", help="plan, task (task front matter), evidence (evidence -f json), "
        "domains (domains.yaml), or fleet (the targets file of `fleet run`)")] = (
        "plan"),
) -> None:
    """Print the JSON Schema of plan files, task front matter, JSON evidence, domains files or
    fleet targets files."""
    import json

    from phasegate.cli.output import Terminal
    from phasegate.errors import PlanError

    if kind == "plan":
        from phasegate.plan.schema import plan_schema

        document = plan_schema()
    elif kind == "task":
        from phasegate.tasks.schema import task_schema

        document = task_schema()
    elif kind == "evidence":
        from phasegate.reports import schema as evidence

        document = evidence.evidence_schema()
    elif kind == "domains":
        from phasegate.domains import schema as domains

        document = domains.domains_schema()
    elif kind == "fleet":
        from phasegate.temporal import fleet_targets

        document = fleet_targets.schema()
    else:
        Terminal().abort(PlanError(f"--for {kind!r}: expected plan, task, evidence, domains "
                                   "or fleet"))
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        from phasegate.cli import common

        common.write_output(Terminal(), output, text)


def version(json_output: JsonOption = False) -> None:
    """Print phasegate's version."""
    import json

    from phasegate import __version__ as found
    from phasegate.cli import documents

    typer.echo(json.dumps(documents.stamped({"version": found})) if json_output
               else f"phasegate {found}")
