"""Checks: the attempts of one probe in one step, told apart by more than a display name.

Two probes of one kind may carry the same default name (two ``file`` probes on one path
with different markers). A check is therefore identified by its probe kind, name and
parameters; two probes identical in all three are still two checks, because each numbers
its own attempts from 1 (a second attempt 1 starts a second check).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from phasegate.observation import Observation


@dataclass(frozen=True)
class Check:
    key: str  # stable within a step: identity and, for identical twins, the occurrence
    attempts: tuple[Observation, ...]
    stopped: bool = False  # still waiting when another check of its gate failed fast

    @property
    def first(self) -> Observation:
        return self.attempts[0]

    @property
    def last(self) -> Observation:
        return self.attempts[-1]

    @property
    def failed(self) -> bool:
        """Failed on its own account: not passed, and not merely cut short."""
        return not self.last.passed and not self.stopped


def identity(observation: Observation) -> str:
    params = json.dumps(observation.params, sort_keys=True, default=str)
    return f"{observation.probe}\0{observation.name}\0{params}"


def of(observations: Sequence[Observation]) -> list[Check]:
    """The checks of one step's observations, in the order their first attempts finished."""
    groups: list[tuple[str, list[Observation]]] = []
    open_by_identity: dict[str, list[int]] = {}
    for observation in observations:
        ident = identity(observation)
        candidates = open_by_identity.setdefault(ident, [])
        target = next((i for i in candidates
                       if groups[i][1][-1].attempt < observation.attempt), None)
        if target is None:
            candidates.append(len(groups))
            groups.append((f"{ident}\0{len(candidates)}", [observation]))
        else:
            groups[target][1].append(observation)
    # A gate stops every probe once one fails fast: a probe still waiting then did not fail
    # by itself, and its last answer is progress ("1 of 3 replicas updated"), not a cause.
    stopping = any(not attempts[-1].passed and attempts[-1].fail_fast
                   for _, attempts in groups)
    return [Check(key, tuple(attempts),
                  stopped=stopping and not attempts[-1].passed and not attempts[-1].fail_fast)
            for key, attempts in groups]


def keys(found: Sequence[Check]) -> list[str]:
    """A key per check to follow it across runs: its probe and name where those are unique
    in the step (so a changed parameter still resolves the same issue), else its identity."""
    names = [f"{c.last.probe}\0{c.last.name}" for c in found]
    return [name if names.count(name) == 1 else check.key
            for name, check in zip(names, found, strict=True)]
