"""``phasegate fleet run`` and ``fleet status``: one plan over many clusters on the Temporal
engine (a parent workflow, a child run per target, in waves). temporalio is imported inside
the commands, as for the other Temporal commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phasegate.cli import exit_codes, temporal_commands
from phasegate.cli.commands import InputOption, JsonOption
from phasegate.cli.workflow_commands import DEFAULT_REPORTS, PlanArgument, ReportsOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal

app = typer.Typer(no_args_is_help=True, help="one plan over many clusters, in waves, on "
                  "the Temporal engine (docs/temporal.md, Fleet)")

TargetsOption = Annotated[Path, typer.Option(
    "--targets", help="the targets file: clusters (name, kubeconfig, context, inputs), "
    "canary, max_parallel, max_failures")]
FleetArgument = Annotated[str, typer.Argument(metavar="FLEET", help="the fleet id")]
SHOWN = {"passed": "[green]passed[/]", "failed": "[red]failed[/]", "-": "[dim]-[/]"}


@app.command("run")
@temporal_commands.leaves_hard
def run(plan: PlanArgument, targets: TargetsOption, inputs: InputOption = None,
        yes: Annotated[bool, typer.Option(
            "--yes", help="approve every target's stage P as computed; without it each "
            "target's run waits at P for `phasegate approve RUN HASH`")] = False,
        reports: ReportsOption = None,
        temporal: temporal_commands.AddressOption = None,
        namespace: temporal_commands.NamespaceOption = None,
        task_queue: temporal_commands.QueueOption = None,
        wait: Annotated[bool, typer.Option(
            "--wait", help="follow the fleet to its end (exit 0 when every target passed, "
            "1 when any did not)")] = False,
        json_output: JsonOption = False) -> None:
    """Run PLAN on every target of the targets file: the canary wave first, then waves of
    max_parallel; no further wave once max_failures targets failed."""
    from phasegate.cli import common
    from phasegate.plan import inputs as plan_inputs
    from phasegate.temporal import client, fleet_client, fleet_targets
    from phasegate.workflow import pipeline

    terminal = _terminal(json_output)
    fleet = common.guarded(terminal, fleet_targets.load, targets)
    values = common.guarded(terminal, plan_inputs.parse_input_args, inputs or [])
    at = temporal_commands.where(temporal, namespace, task_queue)
    options = pipeline.RunOptions(yes=yes, reports_dir=reports or DEFAULT_REPORTS)
    spec = common.guarded(terminal, fleet_client.spec_for, plan, values, fleet, options, at)

    async def started() -> dict[str, Any] | None:
        connected = await client.connect(at)
        await fleet_client.start(connected, spec, at)
        if not wait:
            return None
        terminal.progress(f"fleet {spec.fleet_id} started on Temporal ({at.address}, task "
                          f"queue {at.task_queue}): {len(spec.members)} targets in "
                          f"{len(spec.waves)} waves")
        await fleet_client.follow(connected, spec.fleet_id, terminal.progress)
        return await fleet_client.status(connected, spec.fleet_id)

    ended = temporal_commands.until_done(terminal, started(), following=True)
    if ended is None:
        terminal.print(f"fleet {spec.fleet_id} started on Temporal ({at.address}); follow "
                       f"it with `phasegate fleet status {spec.fleet_id}`")
        terminal.emit({"fleet_id": spec.fleet_id, "status": "running", "waves": spec.waves,
                       "runs": {m.name: m.spec.run_id for m in spec.members}})
        return
    _show(terminal, ended)
    codes = {"passed": exit_codes.PASSED, "interrupted": exit_codes.INTERRUPTED}
    raise SystemExit(codes.get(ended["status"], exit_codes.GATE_FAILED))


@app.command("status")
@temporal_commands.leaves_hard
def status(fleet: FleetArgument, temporal: temporal_commands.AddressOption = None,
           namespace: temporal_commands.NamespaceOption = None,
           json_output: JsonOption = False) -> None:
    """A table of the fleet's targets by stages (R, 0, P, I, V) with each target's run and
    state, read from Temporal (the fleet's workflow and each running target's)."""
    from phasegate.temporal import client, fleet_client

    terminal = _terminal(json_output)
    at = temporal_commands.where(temporal, namespace, None)

    async def asked() -> dict[str, Any]:
        return await fleet_client.status(await client.connect(at), fleet)

    _show(terminal, temporal_commands.until_done(terminal, asked()))


@app.command("cancel")
@temporal_commands.leaves_hard
def cancel(fleet: FleetArgument, temporal: temporal_commands.AddressOption = None,
           namespace: temporal_commands.NamespaceOption = None,
           json_output: JsonOption = False) -> None:
    """Stop the fleet: its targets' runs going now stop (tracers cleaned up, recorded as
    interrupted), no further wave starts; then its table."""
    from phasegate.temporal import client, fleet_client

    terminal = _terminal(json_output)
    at = temporal_commands.where(temporal, namespace, None)

    async def cancelled() -> dict[str, Any]:
        return await fleet_client.cancel(await client.connect(at), fleet)

    _show(terminal, temporal_commands.until_done(terminal, cancelled()))


def _terminal(json_output: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_output)


def _show(terminal: Terminal, found: dict[str, Any]) -> None:
    from rich.markup import escape

    from phasegate.cli import fitted

    stages = found["stages"]
    rows = [[escape(row["target"]), str(row["wave"]),
             *(SHOWN.get(row["stages"][s], f"[yellow]{escape(row['stages'][s])}[/]")
               for s in stages),
             SHOWN.get(row["status"], escape(row["status"])), escape(row["run_id"])]
            for row in found["targets"]]
    terminal.render(fitted.Fitted(["target", "wave", *stages, "state", "run"], rows,
                                  whole=(1, len(stages) + 3),
                                  title=f"fleet {found['fleet_id']}: {found['status']}"))
    if found["stopped"]:
        terminal.say(found["stopped"])
    for row in found["targets"]:
        if row["plan_hash"]:
            terminal.say(f"{row['target']} waits at P: review `phasegate evidence "
                         f"{row['run_id']}`, then `phasegate approve {row['run_id']} "
                         f"{row['plan_hash']}` (or reject)")
    terminal.emit(found)
