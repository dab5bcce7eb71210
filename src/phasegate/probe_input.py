"""What a probe is given: its parameters and the context it runs in. Plain data, below both
``probes`` and ``kube`` (Kubernetes waiting and diagnostics take them too), so that neither
layer reaches into the other for them. Probe authors find them in ``probes.base``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

GATE_MEMO = "gate_memo"  # the extras key of a gate's per-check memo


class ProbeParams(BaseModel):
    """Parameters of a probe. Unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def describe(self) -> str:
        """A short human name for this probe call, used when the plan gives none."""
        return ", ".join(f"{k}={v}" for k, v in self.model_dump(exclude_defaults=True).items())


@dataclass(frozen=True)
class ProbeContext:
    """What a probe may know about where it runs. Plain data; never a handle to change things."""

    base_dir: Path = field(default_factory=Path.cwd)
    extras: dict[str, Any] = field(default_factory=dict)

    def memo(self) -> dict[str, Any] | None:
        """What a check keeps between its attempts within one gate (a watch's newest event),
        or None outside a gate: it never outlives the gate, so no other gate reads it."""
        found = self.extras.get(GATE_MEMO)
        return found if isinstance(found, dict) else None
