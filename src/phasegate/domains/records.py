"""What domains keep and give back: plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

State = Literal["healthy", "degraded", "down", "unknown"]
ProbeStateName = Literal["passing", "failing", "unknown"]
STATES: tuple[State, ...] = ("healthy", "degraded", "down", "unknown")


@dataclass(frozen=True)
class DomainState:
    """A domain's health at a moment: its state, and, when a dependency that is down
    decides it, which one (``cause``); ``own_state`` is what its own probes said."""

    domain: str
    state: State
    own_state: State
    cause: str | None
    passing: int
    total: int
    reason: str
    at: datetime
    observations: tuple[dict[str, Any], ...] = ()  # its probes' answers, as plain data

    @property
    def words(self) -> str:
        """The state as people read it: "down (cause: identity)"."""
        return f"{self.state} (cause: {self.cause})" if self.cause else self.state

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "state": self.state, "own_state": self.own_state,
                "cause": self.cause, "passing": self.passing, "total": self.total,
                "reason": self.reason, "at": self.at.isoformat(),
                "observations": list(self.observations)}


@dataclass(frozen=True)
class ProbeState:
    """A change of one health probe's answer: passing, failing, or unknown (it could not
    decide), with the observation that changed it."""

    domain: str
    probe: str
    state: ProbeStateName
    at: datetime
    observation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "probe": self.probe, "state": self.state,
                "at": self.at.isoformat(), "observation": self.observation}


@dataclass(frozen=True)
class TestCase:
    name: str
    classname: str
    outcome: Literal["passed", "failed", "error", "skipped"]
    time: float
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "classname": self.classname, "outcome": self.outcome,
                "time": self.time, "message": self.message}


@dataclass(frozen=True)
class TestReport:
    """A JUnit XML report recorded for a domain (``run_id``: its run in the store)."""

    domain: str
    name: str
    tests: int
    failures: int
    errors: int
    skipped: int
    duration: float
    cases: tuple[TestCase, ...]
    run_id: str = ""
    recorded_at: datetime | None = None

    __test__ = False  # not a pytest class, whatever its name says

    @property
    def passed(self) -> bool:
        return self.failures == 0 and self.errors == 0

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "name": self.name, "run_id": self.run_id,
                "tests": self.tests, "failures": self.failures, "errors": self.errors,
                "skipped": self.skipped, "duration": self.duration, "passed": self.passed,
                "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
                "cases": [case.to_dict() for case in self.cases]}


TestCase.__test__ = False  # type: ignore[attr-defined]
