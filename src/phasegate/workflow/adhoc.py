"""One question asked of reality, outside any plan: ``phasegate probe``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from phasegate.engine import progress
from phasegate.engine.gate import GateResult
from phasegate.errors import PlanError
from phasegate.observation import Observation
from phasegate.plan import inputs as plan_inputs
from phasegate.plan import probe_call, yamltext
from phasegate.plan.model import Target
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import single_gate
from phasegate.workflow.single_gate import StageResult


def parse(text: str, inputs: dict[str, Any] | None = None) -> probe_call.ProbeCall:
    """A probe from YAML or JSON text (or ``@file``); errors name the place in that text.

    ``${env:NAME}`` and ``${input.key}`` are expanded as in plans (``plan/inputs.py``): an
    environment value is a secret, masked wherever it would be shown."""
    source = "<probe>"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanError(f"cannot read probe file: {exc}", file=source) from None
    if not text.strip():
        raise PlanError("empty probe; expected e.g. '{tcp: {host: 127.0.0.1, port: 80}}'",
                        file=source)
    tree = yamltext.parse(text, source)
    try:
        return probe_call.build(_substitute(yamltext.plain(tree), inputs or {}, ()))
    except _Missing as exc:
        place = yamltext.locate(tree, exc.path)
        raise PlanError(str(exc), file=source, line=place[0] if place else None,
                        column=place[1] if place else None,
                        path=yamltext.render_path(exc.path) or None) from None
    except probe_call.ProbeCallError as exc:
        place = yamltext.locate(tree, exc.loc, at_key=exc.at_key)
        raise PlanError(
            str(exc), file=source, line=place[0] if place else None,
            column=place[1] if place else None,
            path=yamltext.render_path(exc.loc) or None, suggestion=exc.suggestion,
        ) from None


class _Missing(LookupError):
    def __init__(self, message: str, path: tuple[Any, ...]) -> None:
        self.path = path
        super().__init__(message)


def _substitute(node: Any, inputs: dict[str, Any], path: tuple[Any, ...]) -> Any:
    if isinstance(node, dict):
        return {key: _substitute(value, inputs, (*path, key)) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(item, inputs, (*path, i)) for i, item in enumerate(node)]
    if isinstance(node, str):
        try:
            return plan_inputs.substitute(node, inputs)
        except plan_inputs.MissingInput as exc:
            raise _Missing(str(exc), path) from None
    return node


async def probe(
    call: probe_call.ProbeCall,
    store: EvidenceStore,
    timeout: float = 0.0,
    base_dir: Path | None = None,
    on_observation: Callable[[Observation], None] | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    namespace: str | None = None,
    on_wait: progress.Listener | None = None,
) -> StageResult:
    recorded = single_gate.GateRun("probe", "probe", call.name, _summary, {"probe": call.kind})
    return await single_gate.run(store, recorded, [call], Target(namespace=namespace),
                                 base_dir or Path.cwd(), timeout, on_observation,
                                 context=context, kubeconfig=kubeconfig, on_wait=on_wait)


def _summary(result: GateResult) -> str:
    final = result.finals[0]
    return f"{final.name}: {final.observed}"
