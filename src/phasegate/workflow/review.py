"""What an approval means: the plan hash covers what the user reviewed in the preview — the
plan, its inputs, its manifests and, per object, the server-side dry-run result of what will
change (normalized: no status, resourceVersion, managedFields, generation, uid or
timestamps) with the fields it changes and the conflicts it meets. A controller writing an
object's status between ``plan`` and ``apply --approve`` leaves the hash as it was; someone
else changing its spec does not, and the refusal names the object and the fields, by
comparing with the review recorded under the approved hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from phasegate.kube import snapshot
from phasegate.kube.client import Json
from phasegate.plan.model import Plan
from phasegate.store.evidence import EvidenceStore

REVIEW = "plan review: "  # + hash: what that hash covered, kept to explain a refusal
REDACTED = "<redacted>"
_CAP = 10  # fields named per object in a refusal


@dataclass(frozen=True)
class Entry:
    """One object as reviewed. ``result`` is None for an object to be created (its manifest,
    already hashed, is what was reviewed: the server fills in fresh uids and addresses)."""

    ref: str
    action: str
    fields: list[str] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    result: Json | None = None


def normalized(obj: Json) -> Json:
    """``obj`` without what changes by itself: status and server-kept metadata."""
    trimmed = {k: v for k, v in obj.items() if k != "status"}
    metadata = dict(trimmed.get("metadata") or {})
    for key in snapshot.SERVER_METADATA:
        metadata.pop(key, None)
    trimmed["metadata"] = metadata
    return trimmed


def digest(plan: Plan, rendered: list[Json], entries: list[Entry]) -> str:
    """The plan hash: plan, inputs, rendered manifests and every reviewed object."""
    sha = hashlib.sha256()
    sha.update(plan.content_hash.encode())
    sha.update(_json(plan.inputs).encode())
    for obj in rendered:
        sha.update(_json(obj).encode())
    for entry in entries:
        sha.update(_json(asdict(entry)).encode())
    return sha.hexdigest()[:16]


def record(store: EvidenceStore, run_id: str, plan_hash: str, plan: Plan,
           rendered: list[Json], entries: list[Entry]) -> None:
    """Keep what ``plan_hash`` covered (Secret values redacted), to say later what changed."""
    kept = {"hash": plan_hash, "plan": plan.content_hash,
            "inputs": _short(_json(plan.inputs)),
            "manifests": _short("".join(_json(_kept(obj)) for obj in rendered)),
            "objects": [{**asdict(e), "result": _kept(e.result) if e.result else None}
                        for e in entries]}
    store.add_artifact(run_id, REVIEW + plan_hash, json.dumps(kept, sort_keys=True),
                       "application/json")


def what_changed(store: EvidenceStore, approved: str, now: str) -> str:
    """Since the review under ``approved``, what differs in the one under ``now`` (both
    recorded): the objects and their fields, in words."""
    then_text, now_text = store.find_artifact(REVIEW + approved), store.find_artifact(REVIEW + now)
    if then_text is None or now_text is None:
        return (f"no plan preview with hash {approved} in this store to compare with (run "
                "`phasegate plan` with the same --store to see what an approval covers)")
    then, current = json.loads(then_text), json.loads(now_text)
    found = []
    if then["plan"] != current["plan"]:
        found.append("the plan file changed")
    if then["inputs"] != current["inputs"]:
        found.append("the inputs changed")
    if then["manifests"] != current["manifests"]:
        found.append("the rendered manifests changed")
    before = {o["ref"]: o for o in then["objects"]}
    after = {o["ref"]: o for o in current["objects"]}
    for ref in [*before, *(r for r in after if r not in before)]:
        said = _object_changed(before.get(ref), after.get(ref))
        if said:
            found.append(f"{ref}: {said}")
    return "; ".join(found) or ("something that is not kept changed (a Secret's values, "
                                "which are never stored)")


def _object_changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if before is None:
        return f"now in the plan ({after['action'] if after else ''})"
    if after is None:
        return "no longer in the plan"
    said = []
    if before["action"] != after["action"]:
        said.append(f"was to {before['action']}, now to {after['action']}")
    moved = _paths(before.get("result"), after.get("result"))
    if moved:
        more = f" and {len(moved) - _CAP} more" if len(moved) > _CAP else ""
        said.append(f"changed by someone else: {', '.join(moved[:_CAP])}{more}")
    if before["fields"] != after["fields"]:
        said.append(f"fields the plan changes were {', '.join(before['fields']) or 'none'}, "
                    f"now {', '.join(after['fields']) or 'none'}")
    if before["conflicts"] != after["conflicts"]:
        owners = ", ".join(f"{c['field']} ({c['manager']})" for c in after["conflicts"])
        said.append(f"conflicts now: {owners or 'none'}")
    return "; ".join(said)


def _paths(before: Any, after: Any, path: str = "") -> list[str]:
    """Every dotted path whose value differs (uncapped; the caller says how many more)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key in sorted(set(before) | set(after)):
            found += _paths(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return found
    return [] if before == after else [path or "(whole object)"]


def _kept(obj: Json) -> Json:
    """``obj`` as it may be stored: a Secret's values (and its last-applied copy) redacted."""
    if obj.get("kind") != "Secret":
        return obj
    kept = dict(obj)
    for name in ("data", "stringData"):
        if isinstance(kept.get(name), dict):
            kept[name] = dict.fromkeys(kept[name], REDACTED)
    metadata = dict(kept.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    if annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None) is not None:
        metadata["annotations"] = annotations
        kept["metadata"] = metadata
    return kept


def _json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
