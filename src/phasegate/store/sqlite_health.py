"""Whether an SQLite store file can be used at all, asked read-only before anything writes.

A damaged store must never be written: SQLite would happily append to pages it cannot read
and the damage would spread into new evidence. Each refusal is one paragraph that names the
file and what to do.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from phasegate.errors import StoreError

DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def check(path: str) -> None:
    """Refuse ``path`` when it is not readable, not a database, or fails SQLite's quick check.
    A missing file is fine: it becomes a new store."""
    file = Path(path)
    if not file.exists():
        return
    if file.is_dir():
        raise unreadable(path, "it is a directory")
    try:
        connection = sqlite3.connect(f"file:{quote(str(file.resolve()))}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise classify(path, exc) from None
    if problems != ["ok"]:
        raise damaged(path, "; ".join(str(p) for p in problems))


def classify(path: str, exc: sqlite3.Error) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "")
    reason = " ".join(str(exc).split())
    if name == "SQLITE_NOTADB":
        return StoreError(
            f"{path} is not an SQLite database ({reason}), so it cannot be the evidence "
            "store; nothing was written to it. Pass the store you meant with --store (or "
            "PHASEGATE_STORE), or move this file away to start a new store in its place."
        )
    if name == "SQLITE_CORRUPT":
        return damaged(path, reason)
    return unreadable(path, reason)


def damaged(path: str, reason: str) -> StoreError:
    reason = " ".join(reason.replace("*** in database main ***", "").split())
    return StoreError(
        f"the evidence store {path} is damaged ({reason}); phasegate does not write to a "
        "damaged store, and nothing was written. Keep a copy of the file, then restore it "
        f"from a backup, or save what SQLite can still read with `sqlite3 {path} .recover "
        f"| sqlite3 {path}.recovered` and use that file with --store; or start a new store "
        "with --store NEW.db."
    )


def unreadable(path: str, reason: str) -> StoreError:
    return StoreError(
        f"the evidence store {path} cannot be read ({reason}). Check that it is a file this "
        "user may read and write, or pass another store with --store (or PHASEGATE_STORE)."
    )
