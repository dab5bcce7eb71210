"""A step's duration in the store's own SQL: what ``finish_step`` writes into
``steps.duration`` (and revision 0005 wrote for the steps finished before it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import extract, func


def seconds(dialect: str, start: Any, end: Any) -> Any:
    """``end - start`` in seconds (SQLite keeps datetimes as text)."""
    if dialect == "sqlite":
        # SQLite's date functions count milliseconds; rounded to them, a gate of 60 s is
        # 60.0, not 60.00001 (which a bucket of 60 would not hold)
        return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)
    return extract("epoch", end - start)
