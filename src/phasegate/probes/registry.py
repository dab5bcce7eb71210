"""Which probe kinds exist. Adding a family adds its module here and nowhere else."""

from __future__ import annotations

import difflib
import importlib
from functools import cache
from typing import Any

from phasegate.probes.base import ProbeSpec

FAMILY_MODULES = (
    "phasegate.probes.command",
    "phasegate.probes.http",
    "phasegate.probes.tcp",
    "phasegate.probes.dns",
    "phasegate.probes.file",
    "phasegate.probes.git",
    "phasegate.probes.image",
    "phasegate.probes.helm",
    "phasegate.probes.registry_catalog",
    "phasegate.probes.tls",
    "phasegate.probes.k8s_discovery",
    "phasegate.probes.k8s_access",
    "phasegate.probes.k8s_objects",
    "phasegate.probes.k8s_match",
    "phasegate.probes.k8s_workloads",
    "phasegate.probes.k8s_ready",
    "phasegate.probes.k8s_events",
    "phasegate.probes.k8s_capacity",
    "phasegate.probes.k8s_dry_run",
    "phasegate.probes.k8s_operator",
    "phasegate.probes.k8s_divergence",
    "phasegate.probes.k8s_schema",
    "phasegate.probes.k8s_secret_cert",
    "phasegate.probes.k8s_http",
)


@cache
def all_probes() -> dict[str, ProbeSpec[Any]]:
    """Every registered probe kind, by name, in a stable order."""
    found: dict[str, ProbeSpec[Any]] = {}
    for module_name in FAMILY_MODULES:
        module = importlib.import_module(module_name)
        for spec in module.PROBES:
            if spec.kind in found:
                raise RuntimeError(f"probe kind {spec.kind!r} registered twice")
            found[spec.kind] = spec
    return dict(sorted(found.items()))


def get(kind: str) -> ProbeSpec[Any] | None:
    return all_probes().get(kind)


def suggest(kind: str) -> str | None:
    """The registered kind closest to a misspelt one, if any is close."""
    matches = difflib.get_close_matches(kind, list(all_probes()), n=1, cutoff=0.6)
    return matches[0] if matches else None
