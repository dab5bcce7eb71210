"""The synchronous entry points of the Python API (async inside, one sync door)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from phasegate.engine import gate
from phasegate.errors import PlanError
from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.plan.model import Target
from phasegate.workflow import target


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
