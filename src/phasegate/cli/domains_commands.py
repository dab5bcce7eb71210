"""``phasegate results`` and ``phasegate domains``: the test reports of what one team owns,
and which domains a change touches (phasegate.domains, an optional part imported only when
one of these commands runs; ``phasegate health`` is in cli/health_commands.py).

Exit codes: 0 recorded (or listed), 1 a report has failures, 2 bad input (a malformed
domains file or report, an unknown domain or ref).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phasegate.cli import exit_codes
from phasegate.cli.commands import JsonOption, StoreOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.domains.model import DomainsFile

DEFAULT_FILE = Path("domains.yaml")
DomainsOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--domains", help="the domains file (default: domains.yaml here)"),
]

results_app = typer.Typer(
    help="Test reports recorded as evidence of a domain.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _terminal(json_mode: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_mode)


def load(terminal: Terminal, path: Path | None) -> DomainsFile:
    from phasegate.cli import common
    from phasegate.domains import loader

    loaded: DomainsFile = common.guarded(terminal, loader.load_domains, path or DEFAULT_FILE)
    return loaded


@results_app.command("add")
def add(
    report: Annotated[Path, typer.Argument(help="a JUnit XML report (any test runner's)")],
    domain: Annotated[str, typer.Option("--domain", "-d", help="the domain it belongs to")],
    domains_file: DomainsOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record a JUnit XML report as evidence of a domain. Exit 1 when a test failed."""
    from phasegate.cli import common
    from phasegate.domains import history, junit, model
    from phasegate.errors import PlanError

    terminal = _terminal(json_output)
    if domains_file is not None or DEFAULT_FILE.exists():
        known = load(terminal, domains_file)
        if domain not in known.domains:
            names = ", ".join(known.domains) or "none"
            terminal.abort(PlanError(f"--domain {domain!r}: no such domain in "
                                     f"{domains_file or DEFAULT_FILE} (domains: {names})"))
    elif not re.fullmatch(model.NAME_PATTERN, domain):
        terminal.abort(PlanError(f"--domain {domain!r}: a domain name is lowercase letters, "
                                 "digits, '.', '_' or '-'"))
    parsed, text = common.guarded(terminal, junit.read, report, domain)
    evidence = common.guarded(terminal, common.open_store, store)
    run_id = common.guarded(terminal, history.record_report, evidence, parsed, text)
    mark = "[green]passed[/]" if parsed.passed else "[red]failed[/]"
    terminal.print(f"domain [bold]{domain}[/]: {history.summary(parsed)} — {mark}")
    terminal.print(f"evidence: run [bold]{run_id}[/] in {evidence.describe()}")
    terminal.emit({**parsed.to_dict(), "run_id": run_id})
    raise SystemExit(exit_codes.PASSED if parsed.passed else exit_codes.GATE_FAILED)


domains_app = typer.Typer(
    help="Domains: what each team owns (see docs/domains.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@domains_app.command("affected")
def affected(
    base: Annotated[str, typer.Option("--base", help="the ref the change is compared with "
                                      "(origin/main): files changed since head forked from it")],
    head: Annotated[str, typer.Option("--head", help="the ref of the change")] = "HEAD",
    dependents: Annotated[bool, typer.Option(
        "--with-dependents", help="also the domains that depend on an affected one")] = False,
    domains_file: DomainsOption = None,
    json_output: JsonOption = False,
) -> None:
    """The domains a git diff touches, by their paths globs and plan files (JSON: a CI
    matrix). Exit 0 however many (none included), 2 bad input or an unknown ref."""
    from rich.markup import escape

    from phasegate.cli import common
    from phasegate.domains import affected as changes

    terminal = _terminal(json_output)
    loaded = load(terminal, domains_file)
    found = common.guarded(terminal, changes.affected, loaded, base, head,
                           with_dependents=dependents)
    terminal.print(f"{len(found.files)} file{'s' if len(found.files) != 1 else ''} changed "
                   f"since {escape(base)} ({found.merge_base[:12]}); "
                   f"{len(changes.names(found))} domain"
                   f"{'s' if len(changes.names(found)) != 1 else ''} affected")
    for name, files in found.domains.items():
        shown = ", ".join(files[:3]) + (f", and {len(files) - 3} more" if len(files) > 3 else "")
        terminal.print(f"  [bold]{escape(name)}[/]: {escape(shown)}")
    for name, needed in found.through.items():
        terminal.print(f"  [bold]{escape(name)}[/]: depends on {escape(', '.join(needed))}")
    if found.unowned:
        terminal.note(f"{len(found.unowned)} changed file"
                      f"{'s' if len(found.unowned) != 1 else ''} in no domain")
    terminal.emit(found.to_dict(loaded))
