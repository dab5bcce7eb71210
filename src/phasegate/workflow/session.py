"""One run of a plan in progress: the store it writes to, the plan, where it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from phasegate.engine import progress as waits
from phasegate.kube import connections
from phasegate.kube.client import KubeClient
from phasegate.observation import Observation
from phasegate.plan.model import Plan
from phasegate.probes.base import ProbeContext
from phasegate.store.evidence import EvidenceStore

Progress = Callable[[str], None]


@dataclass
class Session:
    store: EvidenceStore
    run_id: str
    plan: Plan
    ctx: ProbeContext
    on_observation: Callable[[Observation], None] | None = None
    progress: Progress | None = None
    on_wait: waits.Listener | None = None  # every probe a gate waits for, as it waits

    def client(self) -> KubeClient:
        return connections.client_for(self.ctx)

    @property
    def namespace(self) -> str:
        return connections.target_of(self.ctx).namespace

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def with_extras(self, **extras: Any) -> ProbeContext:
        return ProbeContext(base_dir=self.ctx.base_dir, extras={**self.ctx.extras, **extras})
