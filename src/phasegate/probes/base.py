"""The small protocol every probe family implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from phasegate import probe_input
from phasegate.observation import Verdict

# what a probe is given, defined below probes and kube (both take them); named here too,
# as the protocol probe authors implement
ProbeParams = probe_input.ProbeParams
ProbeContext = probe_input.ProbeContext
GATE_MEMO = probe_input.GATE_MEMO


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
