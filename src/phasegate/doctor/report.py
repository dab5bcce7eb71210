"""The doctor's rows: plain data, for the table people read and the JSON machines read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Row:
    check: str  # what was checked ("API server", "store")
    status: Status
    detail: str  # what was found
    fix: str = ""  # what to do, for anything not ok

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(check: str, detail: str) -> Row:
    return Row(check, "ok", detail)


def warn(check: str, detail: str, fix: str) -> Row:
    return Row(check, "warn", detail, fix)


def fail(check: str, detail: str, fix: str) -> Row:
    return Row(check, "fail", detail, fix)


def skip(check: str, detail: str) -> Row:
    return Row(check, "skip", detail)


def passed(rows: list[Row]) -> bool:
    """A warning is worth reading, not a broken setup: only a failed row fails the doctor."""
    return all(row.status != "fail" for row in rows)
