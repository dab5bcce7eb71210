"""What a server was started with, and the one place its apply policy is decided.

A tool's body asks :func:`Settings.require_apply` before it changes anything: the policy is
enforced where the tool is called, so a client that calls ``apply`` by name on a read-only
server is refused even though the tool is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phasegate.errors import PhasegateError

# Ad hoc probes that run a program the caller names: on a read-only server they would hand
# the agent a shell on this machine (and so the cluster), with no plan to approve.
RUNS_PROGRAMS = frozenset({"command"})


class Refused(PhasegateError):
    """The server's policy does not allow this call."""


@dataclass(frozen=True)
class Settings:
    allow_apply: bool = False
    store: str | None = None  # the evidence store's URL or path; None: the default store
    kubeconfig: str | None = None
    context: str | None = None
    reports_dir: Path = Path(".phasegate/reports")
    tasks_dir: Path = Path("tasks")
    domains_file: Path = Path("domains.yaml")

    def require_apply(self, what: str) -> None:
        if not self.allow_apply:
            raise Refused(f"{what} refused: this server is read-only. Applying needs a "
                          "server started with `phasegate mcp --allow-apply`, and the plan "
                          "hash that the `plan` tool returned")

    def require_probe(self, kind: str) -> None:
        if kind in RUNS_PROGRAMS and not self.allow_apply:
            raise Refused(f"an ad hoc '{kind}' probe runs a program of the caller's choosing; "
                          "this server is read-only, so it asks only probes that cannot "
                          "change anything (a plan's or task's own command probes still run "
                          "through check and tasks_verify)")
