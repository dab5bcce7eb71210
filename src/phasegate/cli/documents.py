"""What every ``--json`` document carries: ``schema_version`` (docs/cli.md).

It changes when a field is removed, renamed or changes meaning; adding a field keeps it.
Imported by ``phasegate version`` before anything else, so it imports nothing itself.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1


def stamped(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with ``schema_version`` first (a document's own key is replaced)."""
    return {"schema_version": SCHEMA_VERSION,
            **{k: v for k, v in document.items() if k != "schema_version"}}
