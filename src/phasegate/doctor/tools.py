"""The rows a plan adds: credentials for the registries it pulls from, helm when it has
helm phases."""

from __future__ import annotations

import asyncio
import subprocess

from phasegate.doctor import report
from phasegate.doctor.report import Row
from phasegate.errors import PhasegateError
from phasegate.kube import helm
from phasegate.plan.model import Plan
from phasegate.probes.oci import credentials
from phasegate.workflow import check


async def registry_rows(plan: Plan) -> list[Row]:
    registries = sorted({image.mirror.registry for image in check.needed_images(plan)
                         if image.mirror is not None})
    if not registries:
        return [report.skip("registry credentials", "the plan pulls no image")]
    found = await asyncio.gather(*(credentials.lookup(r, None) for r in registries))
    return [_registry_row(registry, lookup) for registry, lookup in
            zip(registries, found, strict=True)]


def _registry_row(registry: str, lookup: credentials.Lookup) -> Row:
    name = f"registry {registry}"
    if lookup.credentials is not None:
        return report.ok(name, f"credentials from {lookup.credentials.source}")
    where = credentials.config_path(None)
    # a public registry needs none: a warning, since only a pull can tell
    return report.warn(name, lookup.note or f"no credentials for it in {where}: anonymous "
                       "pulls only", f"if it is private: `docker login {registry}` (or "
                       "`skopeo login`, writing the same file), or set DOCKER_CONFIG to the "
                       "directory of a config.json that has them")


def helm_row(plan: Plan) -> Row:
    if not any(phase.helm is not None for phase in plan.phases):
        return report.skip("helm", "the plan has no helm phases")
    try:
        binary = helm.find_binary()
    except PhasegateError as exc:
        return report.fail("helm", str(exc), helm.HOW_TO_GET)
    try:
        answer = subprocess.run([binary, "version", "--short"], capture_output=True,
                                text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return report.fail("helm", f"{binary} does not run: {exc}", helm.HOW_TO_GET)
    if answer.returncode != 0 or not answer.stdout.startswith("v3."):
        said = (answer.stdout or answer.stderr).strip()[:200]
        return report.fail("helm", f"{binary} is not helm v3: {said}", helm.HOW_TO_GET)
    return report.ok("helm", f"{answer.stdout.strip()} ({binary})")
