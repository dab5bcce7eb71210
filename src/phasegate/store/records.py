"""What the store gives back: plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phasegate.observation import Observation


@dataclass(frozen=True)
class RunRecord:
    id: str
    command: str
    plan_name: str | None
    plan_path: str | None
    plan_hash: str | None
    status: str
    started: datetime
    finished: datetime | None
    summary: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRecord:
    id: int
    stage: str
    name: str
    status: str
    started: datetime
    finished: datetime | None
    timeout: float | None
    detail: str
    observations: tuple[Observation, ...] = ()


@dataclass(frozen=True)
class ArtifactRecord:
    id: int
    name: str
    media_type: str
    content: str
    observation_id: int | None


@dataclass(frozen=True)
class RunBundle:
    """A run with everything recorded under it."""

    run: RunRecord
    steps: tuple[StepRecord, ...]
    artifacts: tuple[ArtifactRecord, ...]


@dataclass(frozen=True)
class FailureRecord:
    """A check whose last attempt in its step failed, or a step that failed without checks."""

    run: RunRecord
    stage: str
    step: str
    step_status: str
    observation: Observation | None  # None: the step itself failed (an action, a refusal)
    detail: str
    at: datetime
