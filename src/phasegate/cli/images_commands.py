"""``phasegate images``: the images a plan pulls. ``mirror`` copies them to their mirrors.

Exit codes: 0 every image is in its mirror, 1 a copy failed (its step says why), 2 bad input
(the plan, or a plan without ``target.imageMirrors``), 3 interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phasegate.cli import exit_codes
from phasegate.cli.commands import InputOption, JsonOption, StoreOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal

app = typer.Typer(help="The images a plan pulls: mirror them where the cluster pulls from.",
                  no_args_is_help=True)


@app.command("mirror")
def mirror(
    plan: Annotated[Path, typer.Argument(help="the plan file")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="ask both registries what would be copied; write nothing")] = False,
    auth_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--auth-file", help="Docker config.json with the registries' credentials "
                     "(default $DOCKER_CONFIG/config.json or ~/.docker/config.json)"),
    ] = None,
    inputs: InputOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Copy every image the plan needs to the mirror its target.imageMirrors names:
    blobs, then manifests, digests kept, multi-arch indexes whole; what the mirror already
    holds is skipped. Progress goes to stderr; the copy is recorded in the evidence store."""
    from phasegate.cli import common
    from phasegate.cli.output import Terminal
    from phasegate.plan import inputs as plan_inputs
    from phasegate.plan.loader import load_plan
    from phasegate.workflow import mirror as stage

    terminal = Terminal(json_output)
    values = common.guarded(terminal, plan_inputs.parse_input_args, inputs or [])
    loaded = common.guarded(terminal, load_plan, plan, values)
    todo, unmapped = common.guarded(terminal, stage.wanted, loaded)
    evidence = common.guarded(terminal, common.open_store, store)
    what = "would copy" if dry_run else "mirroring"
    terminal.print(f"[bold]images[/] of plan [bold]{loaded.metadata.name}[/]: {what} "
                   f"{len(todo)} image{'s' if len(todo) != 1 else ''}"
                   + (f" ({len(unmapped)} not mirrored: no imageMirrors prefix matches)"
                      if unmapped else ""))
    result = common.run_async(terminal, stage.mirror(
        loaded, evidence, dry_run=dry_run, auth_file=auth_file,
        on_progress=lambda text: _progress(terminal, text)))
    for outcome in result.outcomes:
        mark = "[green]✓[/]" if outcome.passed else "[red]✗[/]"
        terminal.print(f"{mark} {outcome.upstream} → {outcome.mirror}: {outcome.observed}")
    for ref in result.unmapped:
        terminal.print(f"- {ref}: not mirrored (pulled from where it is)")
    terminal.print(stage.summary(result))
    if result.run_id:
        terminal.print(f"evidence: run [bold]{result.run_id}[/] in {evidence.describe()} "
                       f"(phasegate evidence {result.run_id} --format md)")
    terminal.emit({
        "run_id": result.run_id, "dry_run": dry_run, "passed": result.passed,
        "images": [{"upstream": o.upstream, "mirror": o.mirror, "passed": o.passed,
                    "outcome": o.outcome, "observed": o.observed,
                    **(o.done.to_dict() if o.done else {})} for o in result.outcomes],
        "not_mirrored": result.unmapped,
    })
    raise SystemExit(exit_codes.PASSED if result.passed else exit_codes.GATE_FAILED)


def _progress(terminal: Terminal, text: str) -> None:
    """On stderr, also with --json (stdout stays one document), as every wait's display is;
    silenced by -q."""
    from phasegate import secrets

    if not terminal.quiet:
        terminal.err.print(secrets.mask(text), style="dim", markup=False, highlight=False)
