"""How results look to people: tables of observations, runs and steps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phasegate.cli.fitted import Fitted
    from phasegate.engine.gate import GateResult
    from phasegate.observation import Observation
    from phasegate.store.records import RunBundle, RunRecord

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "running": "yellow",
                "interrupted": "yellow", "timed out": "red", "refused": "red"}


def styled_status(status: str) -> str:
    """A status in its colour; unknown statuses plain (and escaped: they are data)."""
    from rich.markup import escape

    style = STATUS_STYLE.get(status)
    return f"[{style}]{escape(status)}[/]" if style else escape(status)


def mark(observation: Observation) -> str:
    if observation.passed:
        return "[green]✔ pass[/]"
    return "[red]✘ error[/]" if observation.error else "[red]✘ fail[/]"


def observations_table(observations: list[Observation] | tuple[Observation, ...]) -> Fitted:
    from rich.markup import escape

    from phasegate.cli import fitted

    return fitted.Fitted(
        ["", "probe", "expected", "observed", "attempts", "time"],
        [[mark(o), escape(o.name), escape(o.expected), escape(o.observed), str(o.attempt),
          f"{o.duration * 1000:.0f} ms"] for o in observations],
        whole=(0, 4, 5))


def gate_summary(result: GateResult) -> str:
    passed = sum(1 for o in result.finals if o.passed)
    total = len(result.finals)
    words = {
        "passed": "[green]gate passed[/]",
        "failed": "[red]gate failed[/]",
        "timed_out": f"[red]gate timed out after {result.timeout:g} s[/]",
        "fail_fast": "[red]gate failed fast[/] (waiting could not change the outcome)",
        "error": "[red]gate could not decide[/]",
    }
    return f"{words[result.outcome]}: {passed}/{total} passed in {result.duration:.2f} s"


def runs_table(runs: list[RunRecord]) -> Fitted:
    from rich.markup import escape

    from phasegate.cli import fitted

    return fitted.Fitted(
        ["run", "command", "plan", "status", "started", "summary"],
        [[run.id, escape(run.command), escape(run.plan_name or ""), styled_status(run.status),
          run.started.strftime("%Y-%m-%d %H:%M:%S"), _short(run.summary)] for run in runs],
        whole=(0, 1, 3, 4))


def run_document(bundle: RunBundle) -> dict[str, Any]:
    from phasegate.reports import facts

    return facts.collect(bundle)


def _short(text: str, limit: int = 80) -> str:
    from rich.markup import escape

    return escape(text if len(text) <= limit else text[: limit - 1] + "…")
