"""A phase's Helm release as the workflow sees it: where its chart and values are, the
helm that runs against the target, what readiness means for its objects, and how it is
rolled back (to the revision before the phase, or uninstalled if the phase installed it)."""

from __future__ import annotations

from typing import Any

import yaml

from phasegate.kube import connections, helm
from phasegate.plan import probe_call
from phasegate.plan.model import HelmChart, Phase, Plan
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import helm as helm_probe
from phasegate.workflow.session import Session

ACTION = "helm"  # the journal entry's action for a helm phase


def release_of(plan: Plan, spec: HelmChart, namespace: str) -> helm.Release:
    return helm.release(spec.release, namespace, plan.base_dir, chart=spec.chart,
                        version=spec.version, repo=spec.repo, oci=spec.oci, path=spec.path,
                        values=spec.values, set=spec.set,
                        oci_ca=helm_probe.registry_ca(spec.oci))


def runner(session: Session) -> helm.Helm:
    where = connections.target_of(session.ctx)
    return helm.for_target(where.kubeconfig, where.context)


def ref(release: helm.Release) -> str:
    return f"helm release {release.namespace}/{release.name}"


def objects_of(manifest: str) -> list[dict[str, Any]]:
    """The objects of a rendered release manifest (helm's YAML stream)."""
    found = []
    for document in yaml.load_all(manifest, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(document, dict) and document.get("kind"):
            found.append(document)
    return found


def refs(objects: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Where each object of a release is, as journal entries name objects."""
    found = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        where = meta.get("namespace") or namespace
        found.append({"ref": f"{obj['kind']} {where}/{meta.get('name')}", "kind": obj["kind"],
                      "apiVersion": obj.get("apiVersion"), "name": meta.get("name"),
                      "namespace": where})
    return found


def readiness_calls(objects: list[dict[str, Any]], namespace: str) -> list[ProbeCall]:
    """The gate every object of the release must pass: ``k8s.ready``, the kstatus rules
    for each (one list and one watch per kind and namespace, failing fast on pods that
    cannot start)."""
    refs = [{"kind": str(obj["kind"]), "apiVersion": obj.get("apiVersion"),
             "name": str((obj.get("metadata") or {}).get("name")),
             "namespace": (obj.get("metadata") or {}).get("namespace") or namespace}
            for obj in objects]
    if not refs:
        return []
    return [probe_call.build({"k8s.ready": {"objects": refs}, "name": "release objects ready"})]


async def live_readiness(session: Session, phase: Phase) -> list[ProbeCall]:
    """Readiness of the objects the release holds now (none when it is not installed)."""
    assert phase.helm is not None
    release = release_of(session.plan, phase.helm, session.namespace)
    run = runner(session)
    if not await run.history(release):
        return []
    return readiness_calls(objects_of(await run.manifest(release)), release.namespace)


def entry(release: helm.Release, history: list[helm.Revision]) -> dict[str, Any]:
    """The journal entry written before helm runs: the state to come back to."""
    deployed = [r.revision for r in history if r.status == "deployed"]
    return {"ref": ref(release), "action": ACTION, "release": release.name,
            "namespace": release.namespace, "installed": not history,
            "before": deployed[-1] if deployed else None}


async def roll_back(session: Session, phase: Phase, entries: list[dict[str, Any]],
                    dry_run: bool = False) -> str:
    """Back to the state before the phase: ``helm rollback`` to the revision deployed
    before it, or ``helm uninstall`` when the phase installed the release."""
    assert phase.helm is not None
    ours = [e for e in entries if e.get("action") == ACTION]
    if not ours:
        return "nothing to undo (helm never ran)"
    first = ours[0]  # after a resume, the state before the first attempt
    release = release_of(session.plan, phase.helm, first["namespace"])
    run = runner(session)
    if first["installed"] or first["before"] is None:
        if dry_run:
            await run.uninstall(release, phase.timeout, dry_run=True)
            return f"{ref(release)} would be uninstalled (helm uninstall --dry-run)"
        await run.uninstall(release, phase.timeout)
        return f"uninstalled {ref(release)} (the phase installed it)"
    said = await run.rollback(release, int(first["before"]), phase.timeout, dry_run=dry_run)
    if dry_run:
        return (f"{ref(release)} back to revision {first['before']} "
                f"(helm rollback --dry-run: {said.strip() or 'accepted'})")
    return f"rolled {ref(release)} back to revision {first['before']}"
