"""The ``health`` tool: every domain's health now, as ``phasegate health`` says it
(``phasegate.domains``: domains.yaml, the roll-up by policy and dependency)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from phasegate.errors import PlanError
from phasegate.mcp.service import Result, Service


class HealthTools:
    def __init__(self, served: Service) -> None:
        self.served = served

    async def health(
        self,
        domains: Annotated[str | None, Field(
            description="the domains file; default: the server's --domains "
            "(domains.yaml)")] = None,
        only: Annotated[list[str] | None, Field(
            description="only these domains (and what they depend on)")] = None,
    ) -> Result:
        """Every domain's health now: its state (healthy, degraded, down, unknown), since
        when, why, and each health probe's observation; a state that changed is recorded in
        the evidence store (`phasegate health --json`). Read-only on the target."""
        from phasegate.domains import health, loader

        path = Path(domains) if domains else self.served.settings.domains_file
        loaded = loader.load_domains(path)
        for name in only or []:
            if name not in loaded.domains:
                raise PlanError(f"only: no domain {name!r} in {path} (domains: "
                                f"{', '.join(loaded.domains) or 'none'})")
        settings = self.served.settings
        async with self.served.cluster:
            result = await health.evaluate_once(loaded, only, self.served.store(),
                                                context=settings.context,
                                                kubeconfig=settings.kubeconfig)
        shown = [name for name in result.states if not only or name in only]
        return {"healthy": result.healthy(only), "duration": round(result.duration, 3),
                "domains": [health.document(result, name) for name in shown]}
