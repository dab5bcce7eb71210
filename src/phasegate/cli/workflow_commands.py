"""The workflow commands: tracer, plan, apply, validate, run, resume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phasegate.cli import exit_codes, temporal_commands
from phasegate.cli.commands import (
    ContextOption,
    InputOption,
    JsonOption,
    KubeconfigOption,
    StoreOption,
)

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.store.evidence import EvidenceStore
    from phasegate.temporal.client import Where
    from phasegate.workflow.pipeline import Confirm, RunOptions, RunResult
    from phasegate.workflow.preview import Preview

PlanArgument = Annotated[Path, typer.Argument(help="the plan file")]
ReportsOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--reports", help="where evidence, retrospective and record are written "
                 "(env PHASEGATE_REPORTS; default: .phasegate/reports)"),
]
ApproveOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--approve", help="the plan hash printed by `phasegate plan` (for CI)"),
]
YesOption = Annotated[bool, typer.Option("--yes", help="approve whatever is computed (demos)")]
DEFAULT_REPORTS = Path(".phasegate/reports")


def tracer(plan: PlanArgument, inputs: InputOption = None, context: ContextOption = None,
           kubeconfig: KubeconfigOption = None, store: StoreOption = None,
           reports: ReportsOption = None, json_output: JsonOption = False) -> None:
    """Stage 0: fire the tracer bullets; always clean up."""
    _run(plan, inputs, store, json_output, "tracer", stages=("0",), context=context,
         kubeconfig=kubeconfig, reports_dir=reports)


def plan(plan: PlanArgument, inputs: InputOption = None, context: ContextOption = None,
         kubeconfig: KubeconfigOption = None, store: StoreOption = None,
         reports: ReportsOption = None, json_output: JsonOption = False) -> None:
    """Stage P: what each phase would create or change (server-side dry run), and its hash."""
    _run(plan, inputs, store, json_output, "plan", stages=("P",), preview_only=True,
         context=context, kubeconfig=kubeconfig, reports_dir=reports)


def apply(plan: PlanArgument, inputs: InputOption = None, approve: ApproveOption = None,
          yes: YesOption = False, context: ContextOption = None,
          kubeconfig: KubeconfigOption = None, store: StoreOption = None,
          reports: ReportsOption = None, json_output: JsonOption = False) -> None:
    """Stages P and I: approve the plan, then apply phase by phase, gate by gate."""
    _run(plan, inputs, store, json_output, "apply", stages=("P", "I"), approve=approve,
         yes=yes, context=context, kubeconfig=kubeconfig, reports_dir=reports)


def validate(plan: PlanArgument, inputs: InputOption = None, context: ContextOption = None,
             kubeconfig: KubeconfigOption = None, store: StoreOption = None,
             reports: ReportsOption = None, json_output: JsonOption = False) -> None:
    """Stage V: every gate again, a rollback rehearsal, the deployment record."""
    _run(plan, inputs, store, json_output, "validate", stages=("V",), context=context,
         kubeconfig=kubeconfig, reports_dir=reports, journal=True)


def run(plan: PlanArgument, inputs: InputOption = None, approve: ApproveOption = None,
        yes: YesOption = False, context: ContextOption = None,
        kubeconfig: KubeconfigOption = None, store: StoreOption = None,
        reports: ReportsOption = None,
        level: Annotated[str, typer.Option(
            "--level", help="contract (offline), runtime-smoke, or staging (pinned cluster)")] = (
            "runtime-smoke"),
        json_output: JsonOption = False, engine: temporal_commands.EngineOption = "local",
        temporal: temporal_commands.AddressOption = None,
        namespace: temporal_commands.NamespaceOption = None,
        task_queue: temporal_commands.QueueOption = None,
        wait: temporal_commands.WaitOption = False) -> None:
    """R → 0 → P → I → V: the whole gated workflow."""
    if engine not in ("local", "temporal"):
        _terminal(json_output).abort(ValueError(f"--engine {engine!r}: expected local or "
                                                "temporal"))
    on = temporal_commands.where(temporal, namespace, task_queue) if engine == "temporal" else None
    _run(plan, inputs, store, json_output, "run", approve=approve, yes=yes, context=context,
         kubeconfig=kubeconfig, reports_dir=reports, level=level, temporal=(on, wait))


def resume(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="run id, prefix, or 'latest'")],
    approve: ApproveOption = None,
    yes: YesOption = False,
    reapply_changed: Annotated[bool, typer.Option(
        "--reapply-changed",
        help="re-apply and re-gate passed phases whose manifests changed since")] = False,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Continue an interrupted or failed run from the first phase that has not passed.

    A run that stopped before its plan was approved needs --approve HASH or --yes again.
    A passed phase whose manifests changed since is named and the resume refused, unless
    --reapply-changed re-applies and re-gates it."""
    from phasegate.cli import common, telemetry
    from phasegate.workflow import resuming

    terminal = _terminal(json_output)
    evidence = common.guarded(terminal, common.open_store, store)
    confirm = _confirm(terminal) if not json_output else None
    with telemetry.exported(terminal, evidence, run=run_ref):
        with terminal.waits() as display:
            result = common.run_async(terminal, resuming.resume(
                evidence, run_ref, terminal.progress, approve=approve, yes=yes,
                confirm=confirm, reapply_changed=reapply_changed, on_wait=display))
        _finish(terminal, result)


def _terminal(json_output: bool) -> Terminal:
    from phasegate.cli.output import Terminal

    return Terminal(json_output)


def _run(plan_path: Path, inputs: list[str] | None, store: str | None, json_output: bool,
         command: str, *, level: str = "runtime-smoke", journal: bool = False,
         temporal: tuple[Where | None, bool] = (None, False), **options: object) -> None:
    from phasegate.cli import common, telemetry
    from phasegate.errors import PlanError
    from phasegate.plan import inputs as plan_inputs
    from phasegate.plan.loader import load_plan
    from phasegate.workflow import check, pipeline

    terminal = _terminal(json_output)
    options["reports_dir"] = options.get("reports_dir") or DEFAULT_REPORTS
    values = common.guarded(terminal, plan_inputs.parse_input_args, inputs or [])
    loaded = common.guarded(terminal, load_plan, plan_path, values)
    if level not in ("contract", "runtime-smoke", "staging"):
        terminal.abort(PlanError(f"--level {level!r}: expected contract, runtime-smoke or "
                                 "staging"))
    if level == "contract":
        options["stages"] = ("R",)
        options["level"] = "contract"
    pinned = loaded.target.cluster_uid or (loaded.target.server and loaded.target.ca_fingerprint)
    if level == "staging" and not pinned:
        terminal.abort(PlanError("--level staging needs the cluster pin: set target.clusterUID "
                                 "(or target.server and target.caFingerprint for an identity "
                                 "that may not read kube-system)",
                                 file=str(plan_path), path="target"))
    evidence = common.guarded(terminal, common.open_store, store)
    if journal:
        options["journal_run"] = _latest_applied(evidence, loaded.metadata.name)
    run_options: RunOptions = pipeline.RunOptions(**options)  # type: ignore[arg-type]
    on, wait = temporal
    if on is not None:  # the store is the workers': this client only starts (and follows)
        common.guarded(terminal, check.manifests_valid, loaded)
        with temporal_commands.hard_exit():
            started = temporal_commands.start(terminal, loaded, run_options, on, wait)
            if started is not None:
                _finish(terminal, started)
    confirm = _confirm(terminal) if not json_output else None
    with telemetry.exported(terminal, evidence):
        with terminal.waits() as display:
            result = common.run_async(terminal, pipeline.start(
                loaded, evidence, command, run_options, terminal.progress, confirm,
                on_wait=display))
        if command == "plan" and not json_output:
            terminal.render(_markdown(result.files.pop("preview_markdown", "")))
        _finish(terminal, result)


def _latest_applied(store: EvidenceStore, plan_name: str) -> str | None:
    found = store.find_runs(commands=("run", "apply"), plan_name=plan_name, limit=1)
    return found[0].id if found else None


def _confirm(terminal: Terminal) -> Confirm | None:
    import sys

    if not sys.stdin.isatty():
        return None

    def ask(computed: Preview) -> bool:
        terminal.render(_markdown(computed.markdown()))
        try:
            return typer.confirm("Apply this plan?", default=False)
        except typer.Abort:  # Ctrl-C at the prompt: an interruption like any other
            raise KeyboardInterrupt from None

    return ask


def _markdown(text: str) -> object:
    from rich.markdown import Markdown

    return Markdown(text)


def _tracer_table(result: RunResult) -> object:
    from rich.markup import escape

    from phasegate.cli import fitted

    return fitted.Fitted(
        ["bullet", "assumption", "result", "evidence"],
        [[escape(t.name), escape(t.assumption),
          "[green]passed[/]" if t.passed else "[red]failed[/]", escape(t.evidence)]
         for t in result.tracers],
        whole=(2,), title="tracer bullets")


def _finish(terminal: Terminal, result: RunResult) -> None:
    files = {k: v for k, v in result.files.items() if k != "preview_markdown"}
    if result.tracers:
        terminal.render(_tracer_table(result))
    if result.status == "passed":
        terminal.print(f"[green]run {result.run_id} passed[/]")
    else:
        terminal.print(f"[red]run {result.run_id} {result.status} at {result.stopped_at}[/]:")
        terminal.say(result.detail)
    if result.plan_hash:
        terminal.print(f"plan hash: {result.plan_hash}")
    for name, path in files.items():
        terminal.say(f"{name.replace('_', ' ')}: {path}")
    terminal.emit({"run_id": result.run_id, "status": result.status,
                   "stopped_at": result.stopped_at, "detail": result.detail,
                   "plan_hash": result.plan_hash, "preview": result.preview, "files": files,
                   "phases": [vars(p) for p in result.phases],
                   "tracers": [vars(t) for t in result.tracers]})
    codes = {"passed": exit_codes.PASSED, "failed": exit_codes.GATE_FAILED,
             "refused": exit_codes.BAD_INPUT}
    raise SystemExit(codes.get(result.status, exit_codes.GATE_FAILED))
