"""What crosses the Temporal boundary: one dataclass in and one out per activity, plain
data only (the workflow's sandbox admits the standard library and nothing heavier).

Every input carries the run's :class:`RunSpec` and a ``key`` (run id + step) that makes the
activity idempotent: a retried activity whose step already finished returns what it
returned then."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW = "phasegate-run"
DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "phasegate"


@dataclass
class PhaseShape:
    index: int
    name: str


@dataclass
class RunSpec:
    """A run as the client started it: the plan named, its shape, the options."""

    run_id: str
    plan_path: str
    plan_hash: str
    inputs: dict[str, Any]
    stages: list[str]
    tracers: list[str]
    phases: list[PhaseShape]
    command: str = "run"
    approve: str | None = None
    yes: bool = False
    context: str | None = None
    kubeconfig: str | None = None
    reports_dir: str = ".phasegate/reports"
    level: str = "runtime-smoke"
    heartbeat_seconds: float = 10.0  # a worker silent this long is dead: retried elsewhere
    connection: dict[str, str] = field(default_factory=dict)  # address, namespace, queue

    def key(self, step: str) -> str:
        return f"{self.run_id}/{step}"


@dataclass
class StepInput:
    spec: RunSpec
    key: str


@dataclass
class Said:
    """Every output's progress lines: what the local engine would have printed."""

    said: list[str] = field(default_factory=list)


@dataclass
class Opened(Said):
    run_id: str = ""


@dataclass
class StageDone(Said):
    stop: str | None = None  # why the stage stops the run (None: passed)
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class TracerInput:
    spec: RunSpec
    key: str
    tracer: str


@dataclass
class TracerResult(Said):
    name: str = ""
    assumption: str = ""
    passed: bool = False
    evidence: str = ""


@dataclass
class TracerApplied(Said):
    applied: list[dict[str, Any]] = field(default_factory=list)  # refs only, no contents
    refused: TracerResult | None = None


@dataclass
class CleanupInput:
    spec: RunSpec
    key: str
    tracer: str
    applied: list[dict[str, Any]]


@dataclass
class CleanupDone(Said):
    left: str = ""


@dataclass
class Previewed(Said):
    step: int = 0  # the P step, open until the decision
    hash: str = ""
    preview: dict[str, Any] | None = None
    markdown: str = ""
    stop: str | None = None
    status: str = ""  # with stop: failed or refused


@dataclass
class ApprovalInput:
    spec: RunSpec
    key: str
    step: int
    hash: str
    given: str | None = None  # how a person decided (approve or reject), if one did


@dataclass
class Approval(Said):
    approved: bool = False
    how: str = ""


@dataclass
class PhaseInput:
    spec: RunSpec
    key: str
    index: int


@dataclass
class PhaseApplied(Said):
    started: str = ""  # ISO time the apply started (gates read events since)
    summary: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)  # the gate, as written
    failed: str | None = None
    rollback: bool = True


@dataclass
class PhaseGateInput:
    spec: RunSpec
    key: str
    index: int
    applied: PhaseApplied


@dataclass
class PhaseResult(Said):
    index: int = 0
    name: str = ""
    status: str = ""  # passed, failed, rolled back
    detail: str = ""


@dataclass
class PhaseGated(Said):
    passed: PhaseResult | None = None
    failed: str | None = None


@dataclass
class SettleInput:
    spec: RunSpec
    key: str
    index: int
    reason: str
    rollback: bool


@dataclass
class FinishInput:
    spec: RunSpec
    key: str
    status: str
    detail: str


@dataclass
class Finished(Said):
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class Decision:
    """A person's answer at stage P: approve (with the hash they reviewed) or reject."""

    approve: bool
    hash: str = ""
    reason: str = ""
    who: str = ""


@dataclass
class RunState:
    """What the workflow answers a query with: the run as it is now."""

    run_id: str
    stage: str = ""
    status: str = "running"  # running, awaiting approval, passed, failed, refused, …
    lines: list[str] = field(default_factory=list)
    plan_hash: str | None = None
    preview_markdown: str = ""
    stopped_at: str | None = None
    detail: str = ""
    files: dict[str, str] = field(default_factory=dict)
    tracers: list[TracerResult] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    preview: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status not in ("running", "awaiting approval")


FLEET_WORKFLOW = "phasegate-fleet"


@dataclass
class FleetMember:
    """One target of a fleet: its name and its run, as a child workflow gets it."""

    name: str
    spec: RunSpec


@dataclass
class FleetSpec:
    fleet_id: str
    members: list[FleetMember]
    waves: list[list[str]]  # target names, canary wave first
    max_failures: int = 1


@dataclass
class MemberState:
    """A target as the fleet knows it: which wave, its run, when it started and ended."""

    name: str
    wave: int
    run_id: str
    status: str = "not started"  # then running, and the run's own final status
    started: str = ""  # ISO times, the workflow's clock
    ended: str = ""
    stage: str = ""
    stopped_at: str | None = None
    detail: str = ""


@dataclass
class FleetState:
    fleet_id: str
    stages: list[str] = field(default_factory=list)
    status: str = "running"  # running, passed, failed, interrupted
    wave: int = 0  # the wave running now (or the last that ran), 1-based
    stopped: str = ""  # why no further wave started
    members: list[MemberState] = field(default_factory=list)
