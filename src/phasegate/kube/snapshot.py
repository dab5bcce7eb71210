"""The snapshot of an object a phase changes (what rollback puts back), and the body that
puts it back over the live object.

A snapshot is the object as it was, everything the user owns included (spec, labels,
annotations with kubectl's ``last-applied-configuration``, owner references, finalizers),
with its ``managedFields`` (who owns which field: given back after the restoring write,
which would otherwise make phasegate's own update the owner of every field it put back,
and a later apply without force conflict with it). A Secret's values never reach the
store: each value is replaced by a marker saying whether the phase changed it, and a
Secret's ``last-applied-configuration`` (which holds its values) is dropped.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Json = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
REDACTED = "<redacted: secret values are never kept>"  # changed by the phase, or unknown
UNCHANGED = "<unchanged by the phase: secret values are never kept>"
SERVER_METADATA = ("uid", "creationTimestamp", "generation", "managedFields",
                   "resourceVersion")


def keep(previous: Json | None, applied: Json | None) -> Json | None:
    """What is kept of ``previous`` (the live object before the phase); ``applied`` is the
    object the apply returned, to tell which Secret values the phase changed."""
    if previous is None:
        return None
    kept = dict(previous)
    metadata = dict(kept.get("metadata") or {})
    if kept.get("kind") == "Secret":
        if "annotations" in metadata:
            metadata["annotations"] = {k: v for k, v in (metadata["annotations"] or {}).items()
                                       if k != LAST_APPLIED}
        after = (applied or {}).get("data") or {}
        for field_name in ("data", "stringData"):
            values = kept.get(field_name)
            if isinstance(values, dict):
                kept[field_name] = {
                    key: UNCHANGED if field_name == "data" and after.get(key) == value
                    else REDACTED for key, value in values.items()}
    kept["metadata"] = metadata
    return kept


def comparable(previous: Json, applied: Json) -> Json:
    """``previous`` as it compares with ``applied``: a Secret's values the phase leaves as
    they are (and its last-applied annotation, never kept) read as ``applied``'s, so a plan
    preview tells them from the values it changes, which stay markers."""
    if previous.get("kind") != "Secret":
        return previous
    result = copy.deepcopy(previous)
    after = applied.get("data") or {}
    data = result.get("data") or {}
    for key, value in data.items():
        if value == UNCHANGED and key in after:
            data[key] = after[key]
    applied_annotations = (applied.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED in applied_annotations:
        result["metadata"].setdefault("annotations", {})[LAST_APPLIED] = \
            applied_annotations[LAST_APPLIED]
    return result


def is_secret_without_values(previous: Json) -> bool:
    return previous.get("kind") == "Secret" and bool(previous.get("data")
                                                     or previous.get("stringData"))


def body(previous: Json, live: Json | None) -> tuple[Json, list[str]]:
    """The snapshot as a request body replacing ``live`` (None: re-creating it), and what
    of the snapshot it cannot carry, in words."""
    result = copy.deepcopy(previous)
    metadata = result.setdefault("metadata", {})
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    if live is not None:
        metadata["resourceVersion"] = live["metadata"]["resourceVersion"]
    notes: list[str] = []
    if result.get("kind") == "Secret":
        notes += _secret_values(result, live or {})
    return result, notes


def _secret_values(result: Json, live: Json) -> list[str]:
    """Fill a Secret's markers with the live values, and say which values are not the
    snapshot's. Its last-applied annotation (never kept) stays as it is now."""
    live_data = live.get("data") or {}
    data = result.get("data") or {}
    lost: list[str] = []
    for key, value in list(data.items()):
        if value not in (REDACTED, UNCHANGED):
            continue
        if key in live_data:
            data[key] = live_data[key]
        else:
            del data[key]
        if value == REDACTED or key not in live_data:
            lost.append(key)
    result.pop("stringData", None)  # write-only: never part of a live object
    live_annotations = (live.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED in live_annotations:
        result["metadata"].setdefault("annotations", {})[LAST_APPLIED] = \
            live_annotations[LAST_APPLIED]
    if not lost:
        return []
    return [f"the value{'s' * (len(lost) > 1)} of {', '.join(sorted(lost))} not restored "
            "(a Secret's values are never kept)"]


def ownership(previous: Json, written: Json, live: Json, manager: str) -> list[Json]:
    """The managedFields to give back: the snapshot's, except for each other manager whose
    fields changed since the restoring write (``written``: what that write, by ``manager``,
    returned) — someone who wrote meanwhile owns what they wrote."""
    def key(entry: Json) -> tuple[str, str, str]:
        return (entry.get("manager", ""), entry.get("operation", ""),
                entry.get("subresource", ""))

    restoring = (manager, "Update", "")  # the restoring write's own entry: never kept
    ours = {key(e): e.get("fieldsV1") for e in written["metadata"].get("managedFields") or []}
    result = {key(e): e for e in previous["metadata"].get("managedFields") or []}
    for entry in live["metadata"].get("managedFields") or []:
        if key(entry) != restoring and ours.get(key(entry)) != entry.get("fieldsV1"):
            result[key(entry)] = entry
    return list(result.values())


MISSING = object()


def keep_live(result: Json, live: Json, field_path: str) -> bool:
    """Set ``field_path`` (as the API names fields: ``spec.ports[0].port``,
    ``spec.resources.requests[storage]``) in ``result`` to its live value, or drop it where
    the live object has none. False when the path names nothing in either."""
    segments: list[str | int] = [
        name if name else (int(key) if key.isdigit() else key)
        for name, key in re.findall(r"([^.\[\]]+)|\[([^\]]*)\]", field_path)]
    if not segments:
        return False
    wanted = _at(live, segments)
    parent = _at(result, segments[:-1])
    last = segments[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        if wanted is MISSING:
            return parent.pop(last, MISSING) is not MISSING
        parent[last] = copy.deepcopy(wanted)
        return True
    if isinstance(parent, list) and isinstance(last, int) and last < len(parent) \
            and wanted is not MISSING:
        parent[last] = copy.deepcopy(wanted)
        return True
    return False


def _at(obj: Any, segments: list[str | int]) -> Any:
    for segment in segments:
        in_map = isinstance(obj, dict) and isinstance(segment, str) and segment in obj
        in_list = isinstance(obj, list) and isinstance(segment, int) and segment < len(obj)
        if in_map or in_list:
            obj = obj[segment]
        else:
            return MISSING
    return obj
