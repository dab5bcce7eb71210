"""One question asked of reality, outside any plan: ``phasegate probe``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from phasegate.errors import PlanError
from phasegate.observation import Observation
from phasegate.plan import probe_call, yamltext
from phasegate.plan.model import Target
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import recorded_gate, stopping, target
from phasegate.workflow.check import StageResult


def parse(text: str) -> probe_call.ProbeCall:
    """A probe from YAML or JSON text (or ``@file``); errors name the place in that text."""
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
        return probe_call.build(yamltext.plain(tree))
    except probe_call.ProbeCallError as exc:
        place = yamltext.locate(tree, exc.loc, at_key=exc.at_key)
        raise PlanError(
            str(exc), file=source, line=place[0] if place else None,
            column=place[1] if place else None,
            path=yamltext.render_path(exc.loc) or None, suggestion=exc.suggestion,
        ) from None


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
) -> StageResult:
    try:
        resolved = await target.resolve(Target(namespace=namespace), base_dir or Path.cwd(),
                                        [call], context=context, kubeconfig=kubeconfig)
        meta: dict[str, object] = {"probe": call.kind}
        if resolved.identity:
            meta["cluster"] = resolved.identity
        run_id = store.start_run("probe", meta=meta)
        try:
            result = await recorded_gate.run(
                store, run_id, "probe", call.name, [call], resolved.context, timeout,
                on_observation,
            )
        except BaseException as exc:
            store.finish_run(run_id, stopping.status_of(exc), stopping.summary_of(exc, run_id))
            raise
    finally:
        await target.release()
    final = result.finals[0]
    status = "passed" if result.passed else ("error" if result.outcome == "error" else "failed")
    store.finish_run(run_id, status, f"{final.name}: {final.observed}")
    return StageResult(run_id, result)
