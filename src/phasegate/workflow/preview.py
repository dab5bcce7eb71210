"""Stage P — the plan, rendered: per phase the objects that would be created or changed
(a server-side dry-run compared with the live object), its gate, timeout and rollback, and
one content hash over the plan, its inputs, its manifests and the live state it saw."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from phasegate.kube import apply, manifests
from phasegate.kube.client import Json
from phasegate.workflow import served_later
from phasegate.workflow.session import Session

VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "uid",
                     "creationTimestamp")


@dataclass(frozen=True)
class ObjectChange:
    ref: str
    action: str  # create, change, unchanged; deferred: its kind is served only later
    fields: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str = ""  # for deferred: "created after phase 1"


@dataclass(frozen=True)
class PhasePreview:
    name: str
    objects: list[ObjectChange]
    gate: list[str]
    timeout: float
    rollback: str


@dataclass(frozen=True)
class Preview:
    plan: str
    hash: str
    phases: list[PhasePreview]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
            lines.append("")
        return "\n".join(lines)


async def compute(session: Session) -> Preview:
    client = session.client()
    digest = hashlib.sha256()
    digest.update(session.plan.content_hash.encode())
    digest.update(json.dumps(session.plan.inputs, sort_keys=True, default=str).encode())
    phases = []
    planned_namespaces: set[str] = set()
    every = [manifests.load(phase.apply, session.plan.base_dir, session.plan.inputs)
             for phase in session.plan.phases]
    planned_crds = served_later.PlannedCrds(every)
    for index, (phase, loaded) in enumerate(zip(session.plan.phases, every, strict=True),
                                            start=1):
        changes = []
        for manifest in loaded:
            digest.update(json.dumps(manifest.obj, sort_keys=True, default=str).encode())
            deferred = await served_later.not_served_yet(client, planned_crds, manifest, index,
                                                         session.namespace)
            if deferred is not None:  # not dry-run-able yet: its manifest alone is hashed
                digest.update(deferred.note.encode())
                changes.append(ObjectChange(deferred.ref, "deferred", note=deferred.note))
                continue
            if manifest.kind == "Namespace":
                planned_namespaces.add(manifest.name)
            namespace = (manifest.obj.get("metadata") or {}).get("namespace") or session.namespace
            if manifest.kind != "Namespace" and namespace in planned_namespaces and not (
                    await client.get(f"/api/v1/namespaces/{namespace}")):
                # the plan creates this namespace first: the server cannot dry-run into it yet
                changes.append(ObjectChange(f"{manifest.kind} {namespace}/{manifest.name}",
                                            "create", [], ["its namespace is created by the plan"]))
                continue
            result = await apply.apply_one(client, manifest, session.namespace, dry_run=True)
            live = result.previous
            digest.update(str((live or {}).get("metadata", {}).get("resourceVersion")).encode())
            if live is None:
                changes.append(ObjectChange(result.ref, "create", [], list(result.warnings)))
                continue
            fields = differences(_comparable(live), _comparable(result.live))
            changes.append(ObjectChange(result.ref, "change" if fields else "unchanged", fields,
                                        list(result.warnings)))
        rollback = phase.rollback if isinstance(phase.rollback, str) else (
            f"{len(phase.rollback)} explicit step(s)")
        phases.append(PhasePreview(phase.name, changes, [g.name for g in phase.gate],
                                   phase.timeout, rollback))
    return Preview(session.plan.metadata.name, digest.hexdigest()[:16], phases)


def _comparable(obj: Json) -> Json:
    trimmed = {k: v for k, v in obj.items() if k != "status"}
    metadata = dict(trimmed.get("metadata") or {})
    for key in VOLATILE_METADATA:
        metadata.pop(key, None)
    trimmed["metadata"] = metadata
    return trimmed


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Dotted paths whose values differ (capped, for a readable plan)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key in sorted(set(before) | set(after)):
            found += differences(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return found[:20]
    return [] if before == after else [path or "(whole object)"]
