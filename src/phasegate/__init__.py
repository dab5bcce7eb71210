"""phasegate: infrastructure changes through gates that demand evidence.

The Python API, for scripts and agents::

    import phasegate

    plan = phasegate.load_plan("plan.yaml", inputs={"port": 8080})
    seen = phasegate.probe({"http": {"url": "http://127.0.0.1:8080/health"}})
    assert seen.passed, seen.observed
    result = phasegate.run("plan.yaml", inputs={"port": 8080}, stages=("R",))
    assert result.status == "passed", result.detail

Everything not listed in ``__all__`` is internal. Names load lazily so that importing
phasegate (and starting the CLI) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ActionError",
    "Observation",
    "PhasegateError",
    "Plan",
    "PlanError",
    "ProbeError",
    "StoreError",
    "TargetError",
    "__version__",
    "load_plan",
    "probe",
    "run",
]

_LAZY = {
    "load_plan": "phasegate.plan.loader",
    "Plan": "phasegate.plan.model",
    "Observation": "phasegate.observation",
    "probe": "phasegate.api",
    "run": "phasegate.api",
    "PhasegateError": "phasegate.errors",
    "PlanError": "phasegate.errors",
    "TargetError": "phasegate.errors",
    "ProbeError": "phasegate.errors",
    "ActionError": "phasegate.errors",
    "StoreError": "phasegate.errors",
}

if TYPE_CHECKING:
    from phasegate.api import probe, run
    from phasegate.errors import (
        ActionError,
        PhasegateError,
        PlanError,
        ProbeError,
        StoreError,
        TargetError,
    )
    from phasegate.observation import Observation
    from phasegate.plan.loader import load_plan
    from phasegate.plan.model import Plan


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'phasegate' has no attribute {name!r}")
