"""A store that is damaged, not a database or not readable: exit 2, one paragraph, no write."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.integration.cli_helpers import phasegate

PLAN = """\
apiVersion: phasegate/v1
kind: Plan
metadata: {name: store-damage}
assumptions:
  probes:
    - file: {path: plan.yaml}
"""


def _plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return path


def _damaged_store(tmp_path: Path) -> Path:
    """A real store with a run in it, then the observations table's data page overwritten."""
    store = tmp_path / "evidence.db"
    result = phasegate("check", str(_plan(tmp_path)), "--store", str(store))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(store) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'observations'"
        ).fetchone()[0]
    connection.close()
    with store.open("r+b") as handle:
        handle.seek((root - 1) * page_size + 8)  # past the page header: its cells
        handle.write(b"\x7f" * (page_size - 16))
    with sqlite3.connect(store) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
    check.close()
    return store


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_paragraph_about(result: object, store: Path, *hints: str) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    text = " ".join(stderr.split())
    assert str(store) in text or store.name in text, text
    for hint in hints:
        assert hint in text, text


@pytest.mark.parametrize(
    "command",
    [["check", "PLAN"], ["evidence", "last"], ["report", "session"], ["show", "last"],
     ["runs"]],
)
def test_a_damaged_store_is_refused_and_never_written(tmp_path: Path, command: list[str]) -> None:
    store = _damaged_store(tmp_path)
    before = _digest(store)
    args = [str(tmp_path / "plan.yaml") if a == "PLAN" else a for a in command]
    result = phasegate(*args, "--store", str(store), cwd=tmp_path)
    _one_paragraph_about(result, store, "damaged", "sqlite3", ".recover")
    assert _digest(store) == before


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "notes.db"
    store.write_text("these are my notes, not an evidence store\n" * 20)
    before = _digest(store)
    for args in (["check", str(_plan(tmp_path))], ["report", "session"]):
        result = phasegate(*args, "--store", str(store), cwd=tmp_path)
        _one_paragraph_about(result, store, "not an SQLite database")
    assert _digest(store) == before


def test_a_store_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    # chmod does not bind root, who runs the tests: a directory in the file's place cannot be
    # read as a database by anyone
    store = tmp_path / "evidence.db"
    store.mkdir()
    for args in (["check", str(_plan(tmp_path))], ["evidence", "last"], ["report", "session"]):
        result = phasegate(*args, "--store", str(store), cwd=tmp_path)
        _one_paragraph_about(result, store, "cannot be read")
    assert list(store.iterdir()) == []
