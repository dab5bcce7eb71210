"""A task as data: the front matter's pydantic models (the boundary) and the plain records."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from phasegate import fields
from phasegate.plan.model import Duration, Target

PRIORITIES = ("critical", "high", "medium", "low")
FOLDERS = ("backlog", "active", "completed")
STATUSES = ("backlog", "active", "blocked", "completed")
ATTEST = "attest"
BLOCKED = "blocked"  # a criterion's status while a task it waits for is not completed
PLAN_RUN = "plan_run"  # "plan run passed": a criterion answered by a recorded plan run

Priority = Literal["critical", "high", "medium", "low"]
Status = Literal["backlog", "active", "blocked", "completed"]
Ids = fields.Strings


class CriterionSpec(BaseModel):
    """One acceptance criterion as written. Unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow", frozen=True)

    text: str = Field(min_length=1, description="what must be true, said for people")
    verify: dict[str, Any] | Literal["attest"] = Field(
        description="a probe ({tls: {...}}), {plan_run: {plan: NAME}}, or 'attest'"
    )
    blocked_by: Ids = Field(default_factory=list, description="tasks this criterion waits "
                            "for: while one is not completed, the criterion counts as "
                            "blocked, not failing")


class FrontMatter(BaseModel):
    """The task's front matter. Unknown fields are kept (and left alone by edits)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9._-]*$", max_length=64)
    title: str = Field(min_length=1)
    priority: Priority = "medium"
    status: Status | None = None
    created: datetime | date | None = None
    blocked_by: Ids = Field(default_factory=list)
    criteria: list[CriterionSpec] = Field(default_factory=list)
    target: Target | None = None


class PlanRunParams(BaseModel):
    """``plan_run``: the latest recorded run of a plan passed (optionally, recently enough)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: str = Field(min_length=1, description="the plan's metadata.name")
    file: str | None = Field(None, min_length=1, description="the plan file, relative to the "
                             "project: only its runs count (needed when two plan files carry "
                             "the same name)")
    command: Literal["run", "apply", "check", "validate", "any"] = Field(
        "run", description="the command whose run must have passed; any: run, apply, check "
                           "or validate")
    within: Duration | None = Field(None, description="the run must have finished this "
                                                       "recently (24h, 30m)")


KNOWN_FIELDS = tuple(info.alias or name for name, info in FrontMatter.model_fields.items())
CRITERION_FIELDS = tuple(CriterionSpec.model_fields)


@dataclass(frozen=True)
class Criterion:
    number: int  # 1-based, as people count them
    text: str
    kind: str  # a probe kind, "plan_run" or "attest"
    verify: dict[str, Any] | None  # the mapping as written (None for attest)
    key: str  # identifies text + verify: evidence for an edited criterion no longer counts
    blocked_by: tuple[str, ...] = ()  # task ids it waits for

    @property
    def attested_only(self) -> bool:
        return self.kind == ATTEST


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    priority: str
    status: str | None  # as written in the front matter
    folder: str  # where the file is: backlog, active or completed
    path: Path
    created: datetime
    blocked_by: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    target: Target | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown front matter fields

    @property
    def done(self) -> bool:
        return self.folder == "completed"

    @property
    def rank(self) -> int:
        return PRIORITIES.index(self.priority)


def criterion_key(text: str, verify: object) -> str:
    canonical = json.dumps({"text": text, "verify": verify}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
