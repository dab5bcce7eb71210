"""How a domain's probes roll up into its state, and how a dependency that is down
decides the state of the domains that need it. Pure: answers in, states out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from phasegate.domains import graph
from phasegate.domains.model import DegradedBelow, Policy, Quorum
from phasegate.domains.records import ProbeStateName, State


@dataclass(frozen=True)
class Rolled:
    state: State
    own_state: State
    cause: str | None
    passing: int
    total: int
    reason: str


def own_state(policy: Policy, answers: Sequence[ProbeStateName]) -> tuple[State, str]:
    """The state the probes' answers give under ``policy``, and why.

    A probe that could not decide (unknown) counts neither way: when the state would differ
    had it passed or failed, the domain is unknown; otherwise the answer is known anyway."""
    total = len(answers)
    if total == 0:
        return "unknown", "no health probes"
    passing = sum(1 for a in answers if a == "passing")
    unknown = sum(1 for a in answers if a == "unknown")
    worst = _by_count(policy, passing, total)
    best = _by_count(policy, passing + unknown, total)
    if worst != best:
        return "unknown", f"{unknown} of {total} probes could not decide"
    return worst, _reason(policy, passing, unknown, total)


def _by_count(policy: Policy, passing: int, total: int) -> State:
    if passing == total:
        return "healthy"
    if isinstance(policy, Quorum):
        return "degraded" if passing >= policy.quorum else "down"
    if isinstance(policy, DegradedBelow):
        if passing >= policy.degraded_below:
            return "healthy"
        return "degraded" if passing > 0 else "down"
    return "down"  # all: every probe must pass


def _reason(policy: Policy, passing: int, unknown: int, total: int) -> str:
    text = f"{passing} of {total} probes pass"
    if unknown:
        text += f", {unknown} could not decide"
    if isinstance(policy, Quorum):
        text += f" (quorum {policy.quorum})"
    elif isinstance(policy, DegradedBelow):
        text += f" (degraded below {policy.degraded_below})"
    return text


def roll_up(
    policies: Mapping[str, Policy],
    depends_on: Mapping[str, Sequence[str]],
    answers: Mapping[str, Sequence[ProbeStateName]],
) -> dict[str, Rolled]:
    """Every domain's state; one whose dependency is down is down with that cause (the
    domain at the root of the outage, so a chain names the one to look at)."""
    rolled: dict[str, Rolled] = {}
    for name in graph.order(depends_on):
        if name not in policies:
            continue
        mine = answers.get(name, ())
        own, reason = own_state(policies[name], mine)
        passing, total = sum(1 for a in mine if a == "passing"), len(mine)
        cause = next((rolled[d].cause or d for d in depends_on.get(name, ())
                      if d in rolled and rolled[d].state == "down"), None)
        if cause is not None:
            rolled[name] = Rolled("down", own, cause, passing, total,
                                  f"{cause} is down; its own probes: {reason}")
        else:
            rolled[name] = Rolled(own, own, None, passing, total, reason)
    return rolled
