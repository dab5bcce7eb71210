"""The small protocol every probe family implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from phasegate.observation import Verdict


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


GATE_MEMO = "gate_memo"  # the extras key of a gate's per-check memo


P = TypeVar("P", bound=ProbeParams)


@dataclass(frozen=True)
class ProbeSpec(Generic[P]):
    """A registered probe kind: its name, its parameters and how it checks."""

    kind: str
    params: type[P]
    check: Callable[[P, ProbeContext], Awaitable[Verdict]]
    summary: str
    default_interval: float = 2.0
    # Asks a Kubernetes API server: the run must resolve (and pin) a cluster first.
    needs_cluster: bool = False
    # Event-driven waiting: returns True when the system reports a change after the
    # observation whose ``data`` it is given, False when the watch ended without one (expired,
    # dropped, budget spent); either way the gate asks again. Raises errors.WatchRefused when
    # it cannot watch at all (forbidden, not supported): the gate then polls.
    wait: Callable[[P, ProbeContext, dict[str, Any], float], Awaitable[bool]] | None = None
    # Evidence for a failed or timed-out gate: why is it not ready?
    diagnose: Callable[[P, ProbeContext], Awaitable[str]] | None = None
