"""What a gate says while it waits: plain data for whoever shows it.

The engine does not know about terminals. Each time a probe did not pass yet and its gate
waits for it again, the gate hands a :class:`ProbeWait` in state ``waiting`` to its
listener; when a probe that was waited on stops waiting, one more in its final state. A
probe that passes at its first attempt was never waited on and says nothing, so a gate
asked once (``timeout=0``) says nothing at all. The texts come from the observation, which
is masked for secrets where it is made, as the evidence store receives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

State = Literal["waiting", "passed", "failed fast", "timed out", "stopped"]


@dataclass(frozen=True)
class ProbeWait:
    gate: str  # the gate's label, as recorded ("I · phase 1: api · gate")
    index: int  # the probe's place in its gate: names may repeat
    probe: str  # its name
    state: State  # "stopped": another probe of the gate failed fast
    waiting_for: str  # what it waits for (the observation's expectation)
    observed: str  # what it observes now
    elapsed: float  # seconds since the gate started
    timeout: float
    attempt: int
    how: str = ""  # while waiting: "watch", or "every 2s" (the pause before the next poll)

    @property
    def key(self) -> tuple[str, int]:
        """Which probe of which gate this is about."""
        return self.gate, self.index


Listener = Callable[[ProbeWait], None]
