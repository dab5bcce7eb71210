"""``phasegate ci init``: write a thin CI trigger for GitHub Actions or GitLab CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phasegate.cli.commands import JsonOption

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal

app = typer.Typer(help="CI workflows that run phasegate's gates in order, inputs by file.",
                  no_args_is_help=True)

_Path = Optional[Path]  # noqa: UP045


@app.command("init")
def init(
    github: Annotated[bool, typer.Option("--github", help="a GitHub Actions workflow")] = False,
    gitlab: Annotated[bool, typer.Option("--gitlab", help="a GitLab CI pipeline")] = False,
    plan: Annotated[Path, typer.Option("--plan", help="the plan, relative to the repository "
                                       "root (where CI jobs run)")] = Path("deploy/plan.yaml"),
    inputs: Annotated[_Path, typer.Option(
        "--inputs", help="inputs file every level reads (non-secret, reviewed in git)")] = None,
    staging_inputs: Annotated[_Path, typer.Option(
        "--staging-inputs", help="inputs file of staging: its context and clusterUID, its "
        "values (default: staging.yaml beside the plan)")] = None,
    output: Annotated[_Path, typer.Option(
        "--output", "-o", help="where to write it (default: .github/workflows/phasegate.yml "
        "or .gitlab-ci.yml)")] = None,
    install: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--phasegate", help="the pip requirement CI installs (default: this version)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
    json_output: JsonOption = False,
) -> None:
    """Write a workflow that installs phasegate, passes inputs by file and runs the gates
    cheapest first: contract → runtime smoke (sandbox) → staging plan → staging (approved
    hash), uploading the JUnit report and the evidence bundle of each."""
    from phasegate import __version__
    from phasegate.ci import github as github_ci
    from phasegate.ci import gitlab as gitlab_ci
    from phasegate.ci.layout import Layout
    from phasegate.cli import common
    from phasegate.cli.output import Terminal
    from phasegate.errors import PlanError

    terminal = Terminal(json_output)
    if github == gitlab:
        terminal.abort(PlanError("ci init: give exactly one of --github and --gitlab"))
    platform = github_ci if github else gitlab_ci
    if not plan.is_file():
        terminal.abort(PlanError("no plan here: pass --plan PATH (relative to the repository "
                                 "root)", file=str(plan)))
    for given in (inputs, staging_inputs):
        if given is not None and given.is_absolute():
            terminal.abort(PlanError("give it relative to the repository root: CI checks "
                                     "the repository out elsewhere", file=str(given)))
    spec = Layout(
        plan=_relative(terminal, plan), inputs=str(inputs) if inputs else None,
        staging_inputs=str(staging_inputs or plan.parent / "staging.yaml"),
        install=install or f"phasegate=={__version__}", version=__version__)
    target = output or Path(platform.PATH)
    if target.exists() and not force:
        terminal.abort(PlanError(f"{target} exists: pass --force to replace it, or -o PATH"))
    common.write_output(terminal, target, platform.render(spec))
    terminal.print(f"wrote {target}: contract → runtime-smoke → staging-plan → staging")
    terminal.say(f"set up what its header names (an environment `staging` with reviewers, "
                 f"the staging kubeconfig and secret inputs); staging inputs: "
                 f"{spec.staging_inputs}")
    terminal.emit({"path": str(target), "platform": "github" if github else "gitlab",
                   "plan": spec.plan, "staging_inputs": spec.staging_inputs})


def _relative(terminal: Terminal, plan: Path) -> str:
    if not plan.is_absolute():
        return str(plan)
    try:
        return str(plan.relative_to(Path.cwd()))
    except ValueError:
        from phasegate.errors import PlanError

        terminal.abort(PlanError("the plan must be inside the repository (the working "
                                 "directory): CI checks the repository out elsewhere",
                                 file=str(plan)))
