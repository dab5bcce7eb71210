"""``phasegate doctor``: one table of what a first run needs, and what to do for each
failure. Exit 0 when nothing failed (warnings included), 1 when something did."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phasegate.cli import exit_codes
from phasegate.cli.commands import (
    ContextOption,
    InputOption,
    JsonOption,
    KubeconfigOption,
    StoreOption,
)

if TYPE_CHECKING:
    from phasegate.doctor.report import Row

_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]",
          "skip": "[dim]skip[/]"}


def doctor(
    plan: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--plan", help="also check what this plan needs: its cluster pin, registries, helm")
    ] = None,
    inputs: InputOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check your setup: kubeconfig and context, the API server and who you are, the store,
    and with --plan the registries' credentials and helm. Changes nothing."""
    from phasegate.cli import common
    from phasegate.cli.output import Terminal
    from phasegate.doctor import report, setup
    from phasegate.plan import inputs as plan_inputs
    from phasegate.plan.loader import load_plan

    terminal = Terminal(json_output)
    loaded = None
    if plan is not None:
        values = common.guarded(terminal, plan_inputs.parse_input_args, inputs or [])
        loaded = common.guarded(terminal, load_plan, plan, values)
    rows = common.run_async(terminal, setup.diagnose(
        loaded, kubeconfig=kubeconfig, context=context, store_url=store))
    passed = report.passed(rows)
    terminal.render(_table(rows))
    failed = sum(row.status == "fail" for row in rows)
    terminal.print("[green]ready[/]" if passed else
                   f"[red]{failed} check{'s' if failed != 1 else ''} failed[/]: see 'what to do'")
    terminal.emit({"passed": passed, "checks": [row.to_dict() for row in rows]})
    raise SystemExit(exit_codes.PASSED if passed else exit_codes.GATE_FAILED)


def _table(rows: list[Row]) -> object:
    from rich.markup import escape

    from phasegate.cli import fitted

    return fitted.Fitted(
        ["check", "", "found", "what to do"],
        [[escape(row.check), _STYLE[row.status], escape(row.detail), escape(row.fix)]
         for row in rows],
        whole=(1,), title="phasegate doctor")
