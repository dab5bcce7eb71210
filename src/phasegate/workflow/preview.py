"""Stage P — the plan, rendered: per phase the objects that would be created or changed
(a server-side dry-run compared with the live object), its gate, timeout and rollback, and
one content hash over what was reviewed (``workflow.review``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from phasegate.kube import apply, bulk, conflicts, manifests, snapshot
from phasegate.kube.client import Json, KubeClient
from phasegate.plan.model import Phase
from phasegate.workflow import helm_render, ready_gate, review, served_later
from phasegate.workflow.session import Session


@dataclass(frozen=True)
class ObjectChange:
    ref: str
    # create, change, unchanged; conflict (fails the phase: no force); deferred: its kind
    # is served only later
    action: str
    fields: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str = ""  # for deferred: "created after phase 1"
    # fields another manager owns that this apply changes: {field, manager, subresource,
    # api_version}; with the phase's `force: true` they are taken, otherwise the phase fails
    conflicts: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PhasePreview:
    name: str
    objects: list[ObjectChange]
    gate: list[str]
    timeout: float
    rollback: str
    force: bool = False


@dataclass(frozen=True)
class Preview:
    plan: str
    hash: str
    phases: list[PhasePreview]
    # what the hash covers, kept by workflow.review; never in to_dict (a Secret's values)
    rendered: list[Json] = field(default_factory=list, repr=False)
    reviewed: list[review.Entry] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "hash": self.hash,
                "phases": [asdict(phase) for phase in self.phases]}

    def markdown(self) -> str:
        lines = [f"# Plan {self.plan}", "", f"Plan hash: `{self.hash}`", ""]
        for index, phase in enumerate(self.phases, start=1):
            lines += [f"## Phase {index}: {phase.name}", "",
                      f"Gate (timeout {phase.timeout:g} s): "
                      + (", ".join(f"`{g}`" for g in phase.gate) or "none"),
                      f"Rollback: {phase.rollback}", "", "| object | change | fields |",
                      "|---|---|---|"]
            for change in phase.objects:
                action = change.note or change.action
                lines.append(f"| {change.ref} | {action} | {', '.join(change.fields)} |")
            for change in phase.objects:
                lines += [f"- warning on {change.ref}: {w}" for w in change.warnings]
                lines += _conflict_lines(change, phase.force)
            lines.append("")
        return "\n".join(lines)


def _conflict_lines(change: ObjectChange, force: bool) -> list[str]:
    if not change.conflicts:
        return []
    owned = conflicts.describe([conflicts.Conflict(**c) for c in change.conflicts])
    if force:
        return [f"- force takes from other managers on {change.ref}: {owned}"]
    return [f"- conflict on {change.ref}: {owned} — applying this phase fails; leave these "
            "fields out of the manifest, or set `force: true` on the phase to take them"]


async def compute(session: Session) -> Preview:
    client = session.client()
    rendered: list[Json] = []
    reviewed: list[review.Entry] = []
    phases = []
    planned_namespaces: set[str] = set()
    namespaces_now: dict[str, bool] = {}
    every = [_objects(session, phase, rendered) for phase in session.plan.phases]
    planned_crds = served_later.PlannedCrds(every)
    for index, (phase, loaded) in enumerate(zip(session.plan.phases, every, strict=True),
                                            start=1):
        # decided one by one (cheap), dry-run together, hashed and shown in manifest order
        decided = [await _decide(client, planned_crds, planned_namespaces, namespaces_now, m,
                                 index, session.namespace) for m in loaded]
        runs = [m for m, d in zip(loaded, decided, strict=True) if d is None]
        # a release's objects are helm's: the dry run takes its fields, as the upgrade will
        helm = phase.helm is not None
        dry_runs = iter(await _dry_runs(client, runs, session.namespace, phase.force or helm))
        changes = []
        for manifest, skipped in zip(loaded, decided, strict=True):
            rendered.append(manifest.obj)
            if isinstance(skipped, served_later.Deferred):
                # not dry-run-able yet: its manifest alone is hashed
                changes.append(ObjectChange(skipped.ref, "deferred", note=skipped.note))
                reviewed.append(review.Entry(skipped.ref, f"deferred ({skipped.note})"))
                continue
            if skipped is not None:
                changes.append(skipped)
                reviewed.append(review.Entry(skipped.ref, "create"))
                continue
            result, found = next(dry_runs)
            owned = [] if helm else [c.to_dict() for c in found]
            live = result.previous
            if live is None:
                changes.append(ObjectChange(result.ref, "create", [], list(result.warnings)))
                reviewed.append(review.Entry(result.ref, "create"))
                continue
            after = review.normalized(result.live)
            fields = differences(review.normalized(snapshot.comparable(live, result.live)),
                                 after)
            action = ("conflict" if found and not phase.force
                      else "change" if fields else "unchanged")
            changes.append(ObjectChange(result.ref, action, fields, list(result.warnings),
                                        conflicts=owned))
            reviewed.append(review.Entry(result.ref, action, fields, owned, after))
        rollback = phase.rollback if isinstance(phase.rollback, str) else (
            f"{len(phase.rollback)} explicit step(s)")
        gate = (["release objects ready", *(g.name for g in phase.gate)] if helm
                else ready_gate.described(phase))
        phases.append(PhasePreview(phase.name, changes, gate,
                                   phase.timeout, rollback, phase.force))
    return Preview(session.plan.metadata.name,
                   review.digest(session.plan, rendered, reviewed), phases, rendered, reviewed)


def _objects(session: Session, phase: Phase, hashed: list[Json]) -> list[manifests.Manifest]:
    """What a phase would apply: its manifests, or the objects its Helm release renders
    (then the chart's digest and the values' digest are hashed too)."""
    if phase.helm is None:
        return manifests.load(phase.apply, session.plan.base_dir, session.plan.inputs)
    release = helm_render.render(session.plan, phase, session.namespace)
    hashed.append(release.hashed())
    return release.objects


async def _decide(client: KubeClient, planned_crds: served_later.PlannedCrds,
                  planned_namespaces: set[str], namespaces_now: dict[str, bool],
                  manifest: manifests.Manifest, index: int,
                  namespace: str) -> served_later.Deferred | ObjectChange | None:
    """Why ``manifest`` cannot be dry-run yet (its CRD or its namespace comes with the
    plan); None when it can. Whether a namespace exists is asked once."""
    deferred = await served_later.not_served_yet(client, planned_crds, manifest, index,
                                                 namespace)
    if deferred is not None:
        return deferred
    if manifest.kind == "Namespace":
        planned_namespaces.add(manifest.name)
        return None
    target = (manifest.obj.get("metadata") or {}).get("namespace") or namespace
    if target in planned_namespaces and target not in namespaces_now:
        namespaces_now[target] = bool(await client.get(f"/api/v1/namespaces/{target}"))
    if target in planned_namespaces and not namespaces_now[target]:
        # the plan creates this namespace first: the server cannot dry-run into it yet
        return ObjectChange(f"{manifest.kind} {target}/{manifest.name}", "create", [],
                            ["its namespace is created by the plan"])
    return None


DryRun = tuple[apply.Applied, tuple[conflicts.Conflict, ...]]


async def _dry_runs(client: KubeClient, loaded: list[manifests.Manifest], namespace: str,
                    force: bool) -> list[DryRun]:
    """Every manifest's dry run, several at once, their live states read in advance."""
    places = [await apply.place_of(client, m, namespace) for m in loaded]
    known = await bulk.previous_states(client, places)

    async def one(item: tuple[int, manifests.Manifest]) -> DryRun:
        index, manifest = item
        return await _dry_run(client, manifest, namespace, force,
                              known.get(index, apply.FETCH))

    return await bulk.in_order(list(enumerate(loaded)), one)


async def _dry_run(client: KubeClient, manifest: manifests.Manifest, namespace: str,
                   force: bool, previous: Json | apply.Fetch | None) -> DryRun:
    """The dry-run result and the fields other managers own that it changes. Without
    force a conflict fails the apply; the forced dry run still says what would change."""
    try:
        result = await apply.apply_one(client, manifest, namespace, dry_run=True, force=force,
                                       previous=previous)
    except conflicts.ApplyConflict as exc:
        result = await apply.apply_one(client, manifest, namespace, dry_run=True, force=True,
                                       previous=previous)
        return result, exc.conflicts
    return result, result.taken


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Dotted paths whose values differ (capped, for a readable plan)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key in sorted(set(before) | set(after)):
            found += differences(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return found[:20]
    return [] if before == after else [path or "(whole object)"]
