"""``phasegate suite run``: kuttl test suites run unchanged, as phasegate gates
(phasegate.suites, an optional part imported only when the command runs).

Exit codes: 0 every test passed, 1 a test failed, 2 bad input (a malformed suite, an
unsupported feature under --strict) or an unusable target.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phasegate.cli import exit_codes
from phasegate.cli.common_options import ContextOption, JsonOption, KubeconfigOption, StoreOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.suites import model

FORMATS = ("kuttl", "chainsaw")
DEFAULT_REPORTS = Path(".phasegate/reports")

app = typer.Typer(
    help="Run kuttl and Chainsaw test suites as phasegate gates.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command("run")
def run(
    directories: Annotated[list[Path], typer.Argument(
        metavar="DIR...", help="a directory holding kuttl-test.yaml (or that file), or "
        "test directories as kuttl's command line takes them")],
    fmt: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="kuttl or chainsaw (default: detected)")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="refuse the suite (exit 2) when it uses what is not supported")] = False,
    timeout: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--timeout", help="the suite's timeout (30s, 2m) as kuttl's --timeout: each step's, "
        "unless its TestAssert gives one")] = None,
    reports: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--reports", help="where the md, json, junit and html reports are written "
        "(env PHASEGATE_REPORTS; default: .phasegate/reports)")] = None,
    values: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--values", metavar="FILE", help="Chainsaw: a YAML file of values its tests read as "
        "$values ('-': standard input); repeat to merge, later files win")] = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a suite: each test in its own namespace, every assert a watch-based gate, every
    operation's result recorded as evidence. Exit 0 passed, 1 a test failed."""
    from phasegate.cli import common

    terminal = _terminal(json_output)
    chosen = _format(terminal, directories, fmt)
    from phasegate.suites import chainsaw, kuttl, runner

    seconds = common.parse_timeout(terminal, timeout) if timeout else None
    if chosen == "chainsaw":
        from phasegate.suites import chainsaw_values

        given = common.guarded(terminal, chainsaw_values.read, values) if values else None
        suite = common.guarded(terminal, chainsaw.load, directories, seconds, given)
    elif values:
        from phasegate.errors import PlanError

        terminal.abort(PlanError("--values is Chainsaw's ($values); a kuttl suite reads none"))
    else:
        suite = common.guarded(terminal, kuttl.load, directories, seconds)
    _tell_unsupported(terminal, suite, strict)
    evidence = common.guarded(terminal, common.open_store, store)
    terminal.print(f"[bold]suite[/] {suite.name} ({suite.format}): {len(suite.tests)} tests")

    def said(verdict: runner.StepVerdict) -> None:
        mark = ("[yellow]skipped[/] (skip: true)" if verdict.asked else
                "[yellow]not run[/]" if verdict.skipped else
                "[green]passed[/]" if verdict.passed else "[red]failed[/]")
        where = f"{verdict.test} · " if verdict.test else ""
        said = f"{verdict.test}" if verdict.skipped else f"{where}{verdict.step}"
        terminal.print(f"  {said} — {mark}")
        if verdict.message and not verdict.skipped:  # the notes said it already
            terminal.say(f"    {verdict.message}")

    result = common.run_async(terminal, runner.run(suite, evidence, context=context,
                                                   kubeconfig=kubeconfig, on_step=said))
    files = _write_reports(terminal, evidence, result.run_id, suite.name,
                           reports or DEFAULT_REPORTS)
    tests = result.tests()
    passed = sum(1 for ok in tests.values() if ok)
    if result.not_run():
        terminal.print(f"{len(result.not_run())} tests not run: they use what phasegate "
                       "does not support (above)")
    if result.skipped():
        terminal.print(f"{len(result.skipped())} tests skipped: they say skip: true")
    terminal.print(f"{passed}/{len(tests)} tests passed; evidence: run [bold]{result.run_id}"
                   f"[/] in {evidence.describe()}; reports in {files['junit'].parent}")
    terminal.emit({"run_id": result.run_id, "passed": result.passed,
                   "tests": {name: ok for name, ok in tests.items()},
                   "steps": [{"test": s.test, "step": s.step, "passed": s.passed,
                              "message": s.message}
                             for s in result.steps if not s.skipped],
                   "unsupported": [str(n) for n in suite.notes],
                   "not_run": result.not_run(),
                   "skipped": result.skipped(),
                   "reports": {k: str(v) for k, v in files.items()}})
    raise SystemExit(exit_codes.PASSED if result.passed else exit_codes.GATE_FAILED)


def _terminal(json_mode: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_mode)


def _format(terminal: Terminal, directories: list[Path], given: str | None) -> str:
    from phasegate.errors import PlanError
    from phasegate.suites import kuttl

    if given is not None:
        if given not in FORMATS:
            terminal.abort(PlanError(f"--format {given!r}: expected kuttl or chainsaw"))
        return given
    for directory in directories:
        if not directory.exists():
            terminal.abort(PlanError(f"{directory} does not exist"))
    from phasegate.suites import chainsaw

    first = directories[0]
    if all(chainsaw.is_suite(d) for d in directories):
        return "chainsaw"
    if all(kuttl.is_suite(d) for d in directories):
        return "kuttl"
    terminal.abort(PlanError(f"{first}: neither a kuttl suite (kuttl-test.yaml, or test "
                             "directories with NN-*.yaml step files) nor a Chainsaw suite"))


def _tell_unsupported(terminal: Terminal, suite: model.Suite, strict: bool) -> None:
    if not suite.notes:
        return
    if strict:
        from phasegate.errors import PlanError

        listed = "; ".join(str(n) for n in suite.notes)
        terminal.abort(PlanError(f"the suite uses what phasegate does not support "
                                 f"(--strict): {listed}"))
    for note in suite.notes:
        terminal.note(f"not supported: {note}")


def _write_reports(terminal: Terminal, evidence: object, run_id: str, name: str,
                   directory: Path) -> dict[str, Path]:
    from phasegate import reports
    from phasegate.cli import common
    from phasegate.store.evidence import EvidenceStore

    assert isinstance(evidence, EvidenceStore)
    bundle = common.guarded(terminal, evidence.load, run_id)
    stem = "suite-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "suite")
    files = {"md": directory / f"{stem}.md", "json": directory / f"{stem}.json",
             "junit": directory / f"{stem}.junit.xml", "html": directory / f"{stem}.html"}
    for fmt, path in files.items():
        common.write_output(terminal, path, reports.render(bundle, fmt))
    return files


@app.command("convert")
def convert(
    directories: Annotated[list[Path], typer.Argument(
        metavar="DIR...", help="a kuttl or Chainsaw suite, as `suite run` takes it")],
    fmt: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="kuttl or chainsaw (default: detected)")] = None,
    out: Annotated[Path, typer.Option("--output", "-o", help="where the plans are written")
                   ] = Path("plans"),
    json_output: JsonOption = False,
) -> None:
    """Turn a kuttl or Chainsaw suite into plans (a plan per test, a phase per step) to
    extend with assumptions, tracers and rollback. What a plan cannot hold is listed in
    each plan."""
    from phasegate.cli import common
    from phasegate.suites import chainsaw, kuttl
    from phasegate.suites import convert as converting

    terminal = _terminal(json_output)
    chosen = _format(terminal, directories, fmt)
    loader = chainsaw.load if chosen == "chainsaw" else kuttl.load
    suite = common.guarded(terminal, loader, directories, None)
    _tell_unsupported(terminal, suite, False)
    try:
        done = converting.convert(suite, out)
    except OSError as exc:
        from phasegate.errors import PlanError

        terminal.abort(PlanError(f"cannot write plans under {out}: {exc.strerror}"))
    for item in done:
        terminal.print(f"  {item.test} → {item.plan}")
        for line in item.not_converted:
            terminal.note(f"    not converted: {line}")
    terminal.print(f"{len(done)} plans written under {out}")
    terminal.emit({"plans": [{"test": d.test, "plan": str(d.plan),
                              "not_converted": list(d.not_converted)} for d in done]})
