"""Totals over the whole store, each in one aggregate query however many runs it holds:
runs by plan, command and status; finished gate steps by plan, stage and status, with their
durations counted into buckets. What the dashboard's ``/metrics`` exposes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from phasegate.store import records, tables
from phasegate.store.evidence import EvidenceStore


@dataclass(frozen=True)
class RunCount:
    plan: str  # the plan's name (a task's id for tasks runs); "" for a run of none
    command: str
    status: str
    count: int


@dataclass(frozen=True)
class GateTotals:
    """The finished gate steps of one plan, stage and status."""

    plan: str
    stage: str
    status: str
    count: int
    seconds: float  # their durations added up
    within: tuple[int, ...]  # how many took at most each bound, in the bounds' order


def runs(store: EvidenceStore) -> list[RunCount]:
    t = tables.runs
    query = (select(t.c.plan_name, t.c.command, t.c.status, func.count())
             .group_by(t.c.plan_name, t.c.command, t.c.status))
    with store.engine.connect() as connection:
        return [RunCount(plan or "", command, status, count)
                for plan, command, status, count in connection.execute(query)]


def gates(store: EvidenceStore, bounds: Sequence[float]) -> list[GateTotals]:
    """Every finished gate step, grouped: a step still waiting has no duration yet.
    ``bounds`` ascend; the query counts each step into the first bound it is within, so
    the answer is a few rows per group, not a row per step. Durations are the ones the
    store wrote when each step finished (``finish_step``; revision 0005 for the steps
    before it): computing them here from the steps' times was a third of the query on
    40,000 gate steps."""
    runs_, steps = tables.runs, tables.steps
    seconds = steps.c.duration
    bucket = case(*[(seconds <= bound, index) for index, bound in enumerate(bounds)],
                  else_=len(bounds)).label("bucket")
    query = (select(runs_.c.plan_name, steps.c.stage, steps.c.status, bucket, func.count(),
                    func.sum(seconds))
             .join_from(steps, runs_, runs_.c.id == steps.c.run_id)
             .where(steps.c.kind == records.GATE, steps.c.finished_at.is_not(None))
             .group_by(runs_.c.plan_name, steps.c.stage, steps.c.status, bucket))
    grouped: dict[tuple[str, str, str], list[Any]] = {}
    with store.engine.connect() as connection:
        for plan, stage, status, index, count, total in connection.execute(query):
            found = grouped.setdefault((plan or "", stage, status), [[0] * (len(bounds) + 1),
                                                                      0.0])
            found[0][index] += count
            found[1] += float(total or 0.0)
    return [GateTotals(plan, stage, status, sum(counts), seconds_,
                       tuple(sum(counts[:index + 1]) for index in range(len(bounds))))
            for (plan, stage, status), (counts, seconds_) in sorted(grouped.items())]
