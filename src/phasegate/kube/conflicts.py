"""Server-side apply conflicts, as data: which field another field manager owns.

A non-forced apply (or its dry run) that would change a field another manager owns is
answered ``409 Conflict`` with a Status whose ``details.causes`` hold one
``FieldManagerConflict`` per field: ``{"field": ".spec.replicas", "message": "conflict with
\\"kube-controller-manager\\" with subresource \\"scale\\" using apps/v1"}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from phasegate.errors import ActionError

CAUSE = "FieldManagerConflict"
# How the API server prints a manager (apimachinery's fieldmanager printManager): a Go-quoted
# name, then optionally its subresource, then for an Update its API version (and time).
_MANAGER = re.compile(r'conflict with "(?P<manager>(?:[^"\\]|\\.)*)"'
                      r'(?: with subresource "(?P<subresource>(?:[^"\\]|\\.)*)")?'
                      r"(?: using (?P<api_version>\S+))?")


@dataclass(frozen=True)
class Conflict:
    field: str  # "spec.replicas", as the server names it (without its leading dot)
    manager: str  # "kube-controller-manager"
    subresource: str = ""  # "scale" when the manager wrote through a subresource
    api_version: str = ""

    def owner(self) -> str:
        """The manager in words: ``kube-controller-manager (via scale)``."""
        return f"{self.manager} (via {self.subresource})" if self.subresource else self.manager

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class ApplyConflict(ActionError):
    """The apply would take fields another manager owns, and force was not asked for."""

    def __init__(self, ref: str, source: str, conflicts: tuple[Conflict, ...]) -> None:
        where = f" ({source})" if source else ""
        super().__init__(f"{ref}{where} conflicts with other field managers: "
                         f"{describe(conflicts)} — leave these fields out of the manifest, "
                         "or set `force: true` on the phase to take them", retryable=False)
        self.ref = ref
        self.conflicts = conflicts


def of(response: httpx.Response) -> tuple[Conflict, ...]:
    """The conflicts a 409 answer names; empty for any other answer (including a 409 that
    is an optimistic-concurrency conflict, which has no FieldManagerConflict cause)."""
    if response.status_code != 409:
        return ()
    try:
        body = response.json()
    except ValueError:
        return ()
    return parse(body)


def parse(status: Any) -> tuple[Conflict, ...]:
    """The FieldManagerConflict causes of a Status object."""
    details = status.get("details") if isinstance(status, dict) else None
    causes = details.get("causes") if isinstance(details, dict) else None
    found = []
    for cause in causes if isinstance(causes, list) else []:
        if not isinstance(cause, dict) or cause.get("reason") != CAUSE:
            continue
        message = str(cause.get("message") or "")
        matched = _MANAGER.search(message)
        field = str(cause.get("field") or "").removeprefix(".")
        if matched is None:
            found.append(Conflict(field, message or "another field manager"))
            continue
        found.append(Conflict(field, _unquote(matched["manager"]),
                              _unquote(matched["subresource"] or ""),
                              matched["api_version"] or ""))
    return tuple(found)


def describe(conflicts: tuple[Conflict, ...] | list[Conflict]) -> str:
    """``spec.replicas (owned by kube-controller-manager (via scale))``, comma-separated."""
    return ", ".join(f"{c.field} (owned by {c.owner()})" for c in conflicts)


def _unquote(text: str) -> str:
    try:
        value = json.loads(f'"{text}"')
    except ValueError:
        return text
    return value if isinstance(value, str) else text
