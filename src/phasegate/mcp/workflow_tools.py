"""The tools that ask the target: probe, check, plan and apply. Each calls what the CLI's
command calls (``workflow.adhoc``, ``workflow.check``, ``workflow.pipeline``), never a
subprocess of phasegate, and returns what the command's ``--json`` prints."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from phasegate.errors import PlanError
from phasegate.mcp import service
from phasegate.mcp.service import Result, Service

if TYPE_CHECKING:
    from phasegate.workflow.single_gate import StageResult

PlanPath = Annotated[str, Field(description="the plan file, relative to the server's "
                                "working directory")]
Inputs = Annotated[list[str] | None, Field(
    description="inputs as the CLI's --input: '@values.yaml' (a file) or 'key=value'; "
    "later ones win")]
Timeout = Annotated[str | None, Field(
    description="wait as a gate does, up to this long ('30s', '2m'); none: ask once")]


class WorkflowTools:
    def __init__(self, served: Service) -> None:
        self.served = served

    async def probe(
        self,
        probe: Annotated[dict[str, Any], Field(description=(
            "one probe: a one-key mapping naming it, e.g. {\"tcp\": {\"host\": \"127.0.0.1\", "
            "\"port\": 443}} or {\"k8s.rollout\": {\"name\": \"api\"}}; ${input.key} and "
            "${env:NAME} expand as in plans (an env value is masked in every result)"))],
        inputs: Inputs = None,
        timeout: Timeout = None,
        namespace: Annotated[str | None, Field(
            description="default namespace for Kubernetes probes")] = None,
    ) -> Result:
        """Ask reality one question, read-only: one probe, its observation recorded in the
        evidence store (like `phasegate probe`). `passed` says whether reality agrees."""
        from phasegate.workflow import adhoc

        call = adhoc.parse(json.dumps(probe), service.inputs(inputs))
        self.served.settings.require_probe(call.kind)
        settings = self.served.settings
        async with self.served.cluster:
            result = await adhoc.probe(call, self.served.store(), service.seconds(timeout),
                                       context=settings.context, kubeconfig=settings.kubeconfig,
                                       namespace=namespace)
        return _gate_document(result)

    async def check(self, plan: PlanPath, inputs: Inputs = None,
                    timeout: Timeout = None) -> Result:
        """Stage R, read-only: every assumption the plan makes about its target (APIs,
        images, permissions, probes), checked concurrently and recorded (`phasegate check`)."""
        from phasegate.plan.loader import load_plan
        from phasegate.workflow import check

        loaded = load_plan(Path(plan), service.inputs(inputs))
        settings = self.served.settings
        async with self.served.cluster:
            result = await check.check(loaded, self.served.store(), service.seconds(timeout),
                                       context=settings.context,
                                       kubeconfig=settings.kubeconfig)
        return _gate_document(result)

    async def plan(self, plan: PlanPath, inputs: Inputs = None) -> Result:
        """Stage P, read-only on the cluster: what each phase would create or change (a
        server-side dry run against the live objects), its gate and rollback, and the plan
        hash that `apply` needs (`phasegate plan`). Recorded as a run."""
        return await self._run(plan, inputs, "plan", stages=("P",), preview_only=True)

    async def apply(
        self,
        plan: PlanPath,
        plan_hash: Annotated[str, Field(min_length=1, description=(
            "the plan hash the `plan` tool returned for this plan and these inputs; a plan "
            "that hashes differently now is refused"))],
        inputs: Inputs = None,
    ) -> Result:
        """Stages P and I: recompute the plan, and only if it still hashes to `plan_hash`,
        apply it phase by phase, each gated, rolled back by its policy on failure
        (`phasegate apply --approve HASH`). Refused on a read-only server."""
        self.served.settings.require_apply("apply")
        if not plan_hash.strip():
            raise PlanError("apply refused: plan_hash is empty; call `plan` first and "
                                    "pass the hash it returns")
        return await self._run(plan, inputs, "apply", stages=("P", "I"),
                               approve=plan_hash.strip())

    async def _run(self, plan_path: str, inputs: list[str] | None, command: str,
                   **options: Any) -> Result:
        from phasegate.plan.loader import load_plan
        from phasegate.workflow import pipeline

        loaded = load_plan(Path(plan_path), service.inputs(inputs))
        settings = self.served.settings
        run_options = pipeline.RunOptions(context=settings.context,
                                          kubeconfig=settings.kubeconfig,
                                          reports_dir=settings.reports_dir, **options)
        async with self.served.cluster:
            result = await pipeline.start(loaded, self.served.store(), command, run_options)
        preview_markdown = result.files.pop("preview_markdown", None)
        return {"run_id": result.run_id, "status": result.status,
                "stopped_at": result.stopped_at, "detail": result.detail,
                "plan_hash": result.plan_hash, "preview": result.preview,
                **({"preview_markdown": preview_markdown} if preview_markdown else {}),
                "files": result.files, "phases": [asdict(p) for p in result.phases],
                "tracers": [asdict(t) for t in result.tracers]}


def _gate_document(result: StageResult) -> Result:
    gate = result.gate
    return {"run_id": result.run_id, "outcome": gate.outcome, "passed": gate.passed,
            "duration": round(gate.duration, 3),
            "observations": [o.to_dict() for o in gate.finals],
            "attempts": len(gate.observations)}
