"""The tools that read the evidence store: a run's status and its evidence. Nothing here
touches the target, so they answer while a gate of another call is waiting."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field

from phasegate.errors import PlanError, StoreError
from phasegate.mcp.service import Result, Service
from phasegate.store.records import RunBundle

RunRef = Annotated[str | None, Field(
    description="a run id, a unique prefix of one, or 'latest'")]


class EvidenceTools:
    def __init__(self, served: Service) -> None:
        self.served = served

    async def run_status(self, run: RunRef = "latest") -> Result:
        """Where a run stands: its status and summary, and each step (stage, name, status,
        detail, how many checks passed and failed). Answers while the run is still going."""
        bundle = self.served.store().load(run or "latest")
        record = bundle.run
        return {
            "run_id": record.id, "command": record.command, "plan": record.plan_name,
            "plan_hash": record.plan_hash, "status": record.status,
            "started": record.started.isoformat(),
            "finished": record.finished.isoformat() if record.finished else None,
            "summary": record.summary,
            "steps": [{"stage": s.stage, "name": s.name, "status": s.status,
                       "detail": s.detail,
                       "passed": sum(1 for o in s.observations if o.passed),
                       "failed": sum(1 for o in s.observations if not o.passed)}
                      for s in bundle.steps],
        }

    async def evidence(
        self,
        run: RunRef = None,
        plan: Annotated[str | None, Field(
            description="instead of a run: the latest run of the plan with this name "
            "(metadata.name)")] = None,
        format: Annotated[Literal["md", "json"], Field(
            description="md: the Markdown report; json: the evidence document "
            "(`phasegate schema --for evidence`)")] = "md",
    ) -> Result:
        """A run's evidence: every step and what each probe expected and observed, as
        `phasegate evidence RUN --format md|json`. Give a run, or a plan for its latest run."""
        from phasegate import reports

        bundle = self._bundle(run, plan)
        text = reports.render(bundle, format)
        if format == "json":
            return {"run_id": bundle.run.id, "format": "json", "evidence": json.loads(text)}
        return {"run_id": bundle.run.id, "format": "md", "content": text}

    def _bundle(self, run: str | None, plan: str | None) -> RunBundle:
        store = self.served.store()
        if run is not None and plan is not None:
            raise PlanError("evidence: give a run or a plan, not both")
        if plan is None:
            return store.load(run or "latest")
        found = store.find_runs(plan_name=plan, limit=1)
        if not found:
            raise StoreError(f"no run of plan '{plan}' in {store.describe()}")
        return store.load(found[0].id)
