"""The ``phasegate`` command tree (typer). ``cli/main.py`` loads it after routing signals,
and only for commands that need it: ``phasegate version`` answers without it."""

from __future__ import annotations

import typer

from phasegate.cli import (
    ci_commands,
    commands,
    common_options,
    doctor_commands,
    domains_commands,
    evidence_commands,
    fleet_commands,
    health_commands,
    images_commands,
    mcp_commands,
    report_commands,
    suite_commands,
    tasks_commands,
    telemetry,
    temporal_commands,
    web_commands,
    workflow_commands,
)

app = typer.Typer(
    name="phasegate",
    help="Run infrastructure changes through gates that demand evidence.\n\n"
    "Exit codes: 0 passed, 1 a gate failed, 2 bad input or unusable target, 3 interrupted.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    verbose: common_options.VerboseOption = 0,
    quiet: common_options.QuietOption = False,
    json_output: common_options.JsonOption = False,
    store: common_options.StoreOption = None,
    kubeconfig: common_options.KubeconfigOption = None,
    context: common_options.ContextOption = None,
    otlp: telemetry.OtlpOption = None,
) -> None:
    common_options.before_the_subcommand(verbose, quiet, json_output, store, kubeconfig,
                                         context)
    telemetry.export_to(otlp)


app.command("probe")(commands.probe)
app.command("check")(commands.check)
app.command("tracer")(workflow_commands.tracer)
app.command("plan")(workflow_commands.plan)
app.command("apply")(workflow_commands.apply)
app.command("validate")(workflow_commands.validate)
app.command("run")(workflow_commands.run)
app.command("resume")(workflow_commands.resume)
app.command("worker")(temporal_commands.worker)
app.command("approve")(temporal_commands.approve)
app.command("reject")(temporal_commands.reject)
app.command("cancel")(temporal_commands.cancel)
app.add_typer(fleet_commands.app, name="fleet")
app.command("runs")(commands.runs)
app.command("show")(commands.show)
app.add_typer(evidence_commands.app, name="evidence")
app.command("schema")(commands.schema)
app.command("version")(commands.version)
app.command("doctor")(doctor_commands.doctor)
app.command("mcp")(mcp_commands.mcp)
app.add_typer(tasks_commands.app, name="tasks")
app.add_typer(report_commands.app, name="report")
app.add_typer(images_commands.app, name="images")
app.add_typer(ci_commands.app, name="ci")
app.command("retro")(report_commands.retro)
app.command("patterns")(report_commands.patterns)
app.add_typer(domains_commands.results_app, name="results")
app.command("serve")(web_commands.serve)
app.command("health")(health_commands.health)
app.add_typer(domains_commands.domains_app, name="domains")
app.add_typer(suite_commands.app, name="suite")


def _mount_sandbox() -> None:
    try:
        from phasegate.cli import sandbox
    except ImportError:  # the sandbox module is optional in trimmed installs
        return
    app.add_typer(sandbox.app, name="sandbox",
                  help="a local Kubernetes control plane to try phasegate against")


_mount_sandbox()
common_options.mount(app)
