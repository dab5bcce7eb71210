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


# What a step is (``StepRecord.kind``): phases and tracers apply, gate and roll back (phases)
# or clean up (tracers); the other stages plan, rehearse and resume; tasks judge criteria.
APPLY, GATE, ROLLBACK, CLEANUP = "apply", "gate", "rollback", "cleanup"
PLAN, REHEARSAL, RESUME, CRITERION, DECISION = (
    "plan", "rehearsal", "resume", "criterion", "decision")

# Artifacts the reports read by name: the state captured where a check failed (+ its name),
# and the deployment record stage V writes.
DIAGNOSTICS = "diagnostics: "
DEPLOYMENT_RECORD = "deployment record"


@dataclass(frozen=True)
class StepPlace:
    """Where a step belongs in its plan, written as fields beside its display name so that
    resume, rollback, validation and reports read them instead of parsing the name."""

    kind: str = ""
    phase: str | None = None  # the phase's name (stage I)
    phase_index: int | None = None  # its place in the plan, from 1
    tracer: str | None = None  # the tracer's name (stage 0)


@dataclass(frozen=True)
class StepRecord:
    id: int
    stage: str
    name: str  # for people: never parsed, the fields below say where the step belongs
    status: str
    started: datetime
    finished: datetime | None
    timeout: float | None
    detail: str
    observations: tuple[Observation, ...] = ()
    kind: str = ""
    phase: str | None = None
    phase_index: int | None = None
    tracer: str | None = None
    # an apply step's journal: per object applied, what was done and its state before
    journal: tuple[dict[str, Any], ...] = ()
    # an apply step's rendered manifests: a digest per file, relative to the plan
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def place(self) -> StepPlace:
        return StepPlace(self.kind, self.phase, self.phase_index, self.tracer)


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
    kind: str = ""  # the step's kind (StepRecord.kind)
