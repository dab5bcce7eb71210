"""``phasegate health``: every domain's health once (exit 0 all shown healthy, 1 not, 2 bad
input), or ``--watch``: each probe on its interval, each state change recorded and shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from phasegate.cli import exit_codes
from phasegate.cli.commands import ContextOption, JsonOption, KubeconfigOption, StoreOption
from phasegate.cli.domains_commands import DEFAULT_FILE, DomainsOption, load

if TYPE_CHECKING:
    from phasegate.cli.output import Terminal
    from phasegate.domains.health import Evaluation
    from phasegate.domains.model import DomainsFile
    from phasegate.domains.watch import Change
    from phasegate.store.evidence import EvidenceStore


STATE_STYLES = {"healthy": "green", "degraded": "yellow", "down": "red", "unknown": "magenta"}
DomainOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--domain", "-d", help="only this domain (and what it depends on); "
                 "repeatable"),
]


def health(
    domains_file: DomainsOption = None,
    only: DomainOption = None,
    watch: Annotated[bool, typer.Option(
        "--watch", "-w", help="keep asking, each probe on its interval; record each change")
    ] = False,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Evaluate every domain's health once (exit 0 all healthy, 1 not), or --watch."""
    from phasegate.cli import common
    from phasegate.cli.output import Terminal
    from phasegate.domains import health as domain_health
    from phasegate.errors import PlanError

    terminal = Terminal(json_output)
    loaded = load(terminal, domains_file)
    for name in only or []:
        if name not in loaded.domains:
            names = ", ".join(loaded.domains) or "none"
            terminal.abort(PlanError(f"--domain {name!r}: no such domain in "
                                     f"{domains_file or DEFAULT_FILE} (domains: {names})"))
    evidence = common.guarded(terminal, common.open_store, store)
    if watch:
        _watch(terminal, loaded, only, evidence, context, kubeconfig)
        return
    result = common.run_async(terminal, domain_health.evaluate_once(
        loaded, only, evidence, context=context, kubeconfig=kubeconfig))
    shown = [name for name in result.states if not only or name in only]
    terminal.render(_table(result, shown))
    if result.changed:
        terminal.note(f"recorded {len(result.changed)} state change"
                      f"{'s' if len(result.changed) != 1 else ''} in {evidence.describe()}")
    healthy = result.healthy(only)
    terminal.emit({"healthy": healthy, "duration": round(result.duration, 3),
                   "domains": [_document(result, name) for name in shown]})
    raise SystemExit(exit_codes.PASSED if healthy else exit_codes.GATE_FAILED)


def styled(state: str, cause: str | None = None) -> str:
    text = f"{state} (cause: {cause})" if cause else state
    return f"[{STATE_STYLES.get(state, 'white')}]{text}[/]"


def _table(result: Evaluation, shown: list[str]) -> Any:
    from rich.markup import escape

    from phasegate.cli.fitted import Fitted

    rows = []
    for name in shown:
        state = result.states[name]
        mine = [result.observations[(c.domain, c.index)] for c in result.checks
                if c.domain == name]
        failing = [o for o in mine if not o.passed]
        why = "; ".join(f"{o.name}: {o.observed}" for o in failing[:3])
        if len(failing) > 3:
            why += f"; and {len(failing) - 3} more"
        rows.append([escape(name), styled(state.state, state.cause),
                     result.since[name].strftime("%Y-%m-%d %H:%M:%S"),
                     f"{state.passing}/{state.total}", escape(why or state.reason)])
    return Fitted(["domain", "state", "since (UTC)", "passing", "why"], rows, whole=(2, 3))


def _document(result: Evaluation, name: str) -> dict[str, Any]:
    from phasegate.domains import health as domain_health

    return domain_health.document(result, name)


def _watch(terminal: Terminal, loaded: DomainsFile, only: list[str] | None,
           evidence: EvidenceStore, context: str | None, kubeconfig: str | None) -> None:
    """Until Ctrl-C or SIGTERM (exit 3). People get the table, then a line per change;
    --json gets one JSON document per line: the first evaluation, then each change."""
    import json
    import sys
    from datetime import UTC, datetime

    from rich.markup import escape

    from phasegate import secrets
    from phasegate.cli import common, documents
    from phasegate.domains import watch as domain_watch

    def line(document: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(secrets.mask_data(documents.stamped(document)),
                                    default=str) + "\n")
        sys.stdout.flush()

    def shown(name: str) -> bool:
        return not only or name in only

    def on_change(first: Evaluation | None, change: Change) -> None:
        if first is not None:
            names = [name for name in first.states if shown(name)]
            if terminal.json_mode:
                line({"event": "evaluated", "healthy": first.healthy(only),
                      "domains": [_document(first, name) for name in names]})
            else:
                terminal.render(_table(first, names))
                terminal.note(f"watching {len(first.checks)} probes; each change is recorded "
                              f"in {evidence.describe()} (Ctrl-C stops)")
            return
        for state, before in change.states:
            if not shown(state.domain):
                continue
            if terminal.json_mode:
                line({"event": "changed", "domain": state.domain,
                      "from": before.state if before else None, **state.to_dict()})
                continue
            was = styled(before.state, before.cause) if before else "never recorded"
            at = datetime.now(UTC).strftime("%H:%M:%S")
            terminal.print(f"{at} [bold]{escape(state.domain)}[/]: {was} → "
                           f"{styled(state.state, state.cause)} — {escape(state.reason)}")
        for probe in change.probes:
            if terminal.json_mode and shown(probe.domain):
                line({"event": "probe", **probe.to_dict()})

    common.run_async(terminal, domain_watch.watch(
        loaded, only, evidence, on_change, context=context, kubeconfig=kubeconfig))
