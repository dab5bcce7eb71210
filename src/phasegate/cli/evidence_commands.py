"""``phasegate evidence``: export one run's evidence (``evidence RUN -f md``, the default
subcommand ``export``) or bundle all of it (``evidence bundle RUN -o FILE``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from phasegate.cli import commands
from phasegate.cli.commands import JsonOption, StoreOption

DEFAULT = "export"


class _ExportByDefault(TyperGroup):
    """``evidence RUN …`` keeps meaning ``evidence export RUN …``: a first word that names no
    subcommand (a run id, ``latest``, an option) goes to ``export``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT, *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


app = typer.Typer(
    cls=_ExportByDefault,
    help="A run's evidence: `evidence RUN -f md|json|junit|html [-o FILE]` exports it (the "
    "subcommand `export`, the default); `evidence bundle RUN -o FILE.tar.gz` bundles every "
    "report of the run with an INDEX.md.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(DEFAULT)(commands.evidence)


@app.command("bundle")
def bundle(
    run: Annotated[str, typer.Argument(help="run id, a unique prefix of one, or 'latest'")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the .tar.gz to write")] = (
        Path("evidence.tar.gz")),
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every report of one run in one .tar.gz: Markdown, JSON, JUnit and HTML evidence, the
    retrospective, the deployment record, diagnostics, and an INDEX.md saying what each file
    proves and which command reproduces it."""
    from phasegate.cli import common
    from phasegate.cli.output import Terminal
    from phasegate.errors import PlanError
    from phasegate.reports import bundle as evidence_bundle

    terminal = Terminal(json_output)
    evidence = common.guarded(terminal, common.open_store, store)
    loaded = common.guarded(terminal, evidence.load, run)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        written = evidence_bundle.write(loaded, evidence.describe(), output)
    except OSError as exc:
        terminal.abort(PlanError(f"cannot write {output}: {exc.strerror}"))
    terminal.print(f"wrote the evidence bundle of run {loaded.run.id} to {output} "
                   f"({len(written)} files; INDEX.md says what each proves)")
    terminal.emit({"run_id": loaded.run.id, "path": str(output),
                   "files": [{"name": f.name, "sha256": f.sha256} for f in written]})
