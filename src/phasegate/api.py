"""The synchronous entry points of the Python API (async inside, one sync door)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasegate.engine import gate
from phasegate.errors import PlanError
from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.plan.model import Target
from phasegate.workflow import target

if TYPE_CHECKING:
    from phasegate.plan.model import Plan
    from phasegate.workflow.pipeline import RunResult


def probe(
    spec: dict[str, Any],
    *,
    timeout: float = 0.0,
    base_dir: str | Path | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    namespace: str | None = None,
) -> Observation:
    """Ask one probe (``{"tcp": {"host": ..., "port": ...}}``); with ``timeout`` it waits as a
    gate does. Returns the last observation; nothing is recorded in a store."""
    try:
        call = probe_call.build(spec)
    except probe_call.ProbeCallError as exc:
        raise PlanError(str(exc), path=".".join(map(str, exc.loc)) or None,
                        suggestion=exc.suggestion) from None

    async def run() -> Observation:
        try:
            resolved = await target.resolve(Target(namespace=namespace),
                                            Path(base_dir or Path.cwd()), [call],
                                            context=context, kubeconfig=kubeconfig)
            result = await gate.evaluate([call], resolved.context, timeout)
            return result.finals[0]
        finally:
            await target.release()

    return asyncio.run(run())


def run(
    plan: Plan | str | Path,
    *,
    inputs: dict[str, Any] | None = None,
    stages: tuple[str, ...] = ("R", "0", "P", "I", "V"),
    approve: str | None = None,
    yes: bool = False,
    level: str = "runtime-smoke",
    context: str | None = None,
    kubeconfig: str | None = None,
    store: str | None = None,
    reports_dir: str | Path = ".phasegate/reports",
) -> RunResult:
    """Run a plan's stages (all by default; ``("R",)`` is ``phasegate check``) and record the
    run in the evidence store. Applying needs ``approve=<plan hash>`` or ``yes=True``.
    Returns the result: ``status`` is "passed", "failed" or "refused"."""
    from phasegate.plan.loader import load_plan
    from phasegate.plan.model import Plan as PlanModel
    from phasegate.store.evidence import EvidenceStore
    from phasegate.workflow import pipeline

    loaded = plan if isinstance(plan, PlanModel) else load_plan(plan, inputs or {})
    options = pipeline.RunOptions(
        stages=("R",) if level == "contract" else stages, approve=approve, yes=yes,
        context=context, kubeconfig=kubeconfig, reports_dir=Path(reports_dir), level=level,
    )
    evidence = EvidenceStore(store)
    try:
        return asyncio.run(pipeline.start(loaded, evidence, "run", options))
    finally:
        evidence.close()
