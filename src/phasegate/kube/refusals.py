"""Pods the API server refused to create for a workload's current revision: a ResourceQuota,
Pod Security, a LimitRange, a missing ServiceAccount, … The controller retries and is
refused again, so waiting cannot fix it: a gate stops at once, the refusal its headline.

Deployments carry it as the current ReplicaSet's ``ReplicaFailure`` condition (reason
``FailedCreate``); StatefulSets, DaemonSets and Jobs only as ``FailedCreate`` events, which
count when they are newer than the current revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from phasegate.kube import objects, revisions
from phasegate.kube.client import Json, KubeClient

# What an admission refusal says; other FailedCreate messages (a timeout, a conflict) pass.
REFUSED = re.compile(r"is forbidden|is invalid|exceeded quota", re.IGNORECASE)
QUOTA = re.compile(r"exceeded quota", re.IGNORECASE)
EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True)
class Refusal:
    source: str  # "ReplicaSet api-5d8f9c7b4 ReplicaFailure", "event FailedCreate (x3)"
    message: str
    fatal: bool
    note: str = ""  # why it is not fatal (yet)

    def headline(self) -> str:
        return f"pod creation refused: {self.message} ({self.source})"


async def find(client: KubeClient, namespace: str, workload: Json,
               revision: revisions.Revision) -> tuple[Refusal | None, list[dict[str, Any]]]:
    """The current revision's latest pod-creation failure (and what to watch for a newer)."""
    if revision.owner is None:
        return None, []
    if workload.get("kind") == "Deployment":
        failure = objects.condition(revision.owner, "ReplicaFailure")
        if not failure or failure.get("status") != "True" or (
                failure.get("reason") != "FailedCreate"):
            return None, []
        source = f"{revision.owner_ref} ReplicaFailure"
        return _judged(source, str(failure.get("message", "")), revision), []
    fields = f"involvedObject.uid={workload['metadata']['uid']},reason=FailedCreate"
    listing = await objects.list_objects(client, await client.find_kind("Event", "v1"),
                                         namespace, field_selector=fields)
    since = _time(revision.owner["metadata"].get("creationTimestamp"))
    newer = [e for e in listing.items if _newer(_when(e), since, inclusive=revision.first)]
    if not newer:
        return None, [listing.watch]
    latest = max(newer, key=lambda e: _when(e) or EPOCH)
    source = f"{workload['kind']} {workload['metadata']['name']} event FailedCreate" + (
        f" (x{latest['count']})" if (latest.get("count") or 1) > 1 else "")
    return _judged(source, str(latest.get("message", "")).strip(), revision), [listing.watch]


def _judged(source: str, message: str, revision: revisions.Revision) -> Refusal:
    if not REFUSED.search(message):
        return Refusal(source, message, False, "not an admission refusal: the controller "
                       "retries")
    if QUOTA.search(message) and revision.terminating:
        # terminating pods still count against the quota: their end may make room
        return Refusal(source, message, False, f"{len(revision.terminating)} pod(s) "
                       "terminating may free the quota")
    return Refusal(source, message, True)


def _when(event: Json) -> datetime | None:
    series = event.get("series") or {}
    return _time(series.get("lastObservedTime") or event.get("lastTimestamp")
                 or event.get("eventTime"))


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    # events and objects carry whole seconds, eventTime microseconds: compare seconds
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(microsecond=0)


def _newer(when: datetime | None, since: datetime | None, inclusive: bool) -> bool:
    """An event of the same second as a *new* revision may be the old one's: not counted."""
    if when is None or since is None:
        return since is None
    return when >= since if inclusive else when > since
