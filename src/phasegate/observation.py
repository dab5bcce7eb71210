"""What a probe saw: the unit of evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """A probe's answer, before the runner adds identity and timing.

    ``fail_fast`` means waiting longer cannot change the answer (an image that does not
    exist, a command that is not installed): a gate stops at once instead of timing out.
    """

    passed: bool
    expected: str
    observed: str
    detail: str = ""
    fail_fast: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """One attempt of one probe against the real system, as kept in the evidence store."""

    probe: str
    name: str
    params: dict[str, Any]
    passed: bool
    expected: str
    observed: str
    detail: str
    started: datetime
    finished: datetime
    attempt: int
    fail_fast: bool = False
    error: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return (self.finished - self.started).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["started"] = self.started.isoformat()
        record["finished"] = self.finished.isoformat()
        record["duration"] = round(self.duration, 6)
        return record
