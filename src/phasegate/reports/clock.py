"""Times as reports say them: stamps in UTC, ages ("12 min ago"), and windows ("--since 6h")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phasegate.durations import parse_duration


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime | None, seconds: bool = False) -> str:
    if moment is None:
        return "—"
    utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def span(seconds: float | None) -> str:
    """A length of time for people: 850 ms, 12 s, 4 min, 3.5 h, 2 d."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        hours = seconds / 3600
        return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h"
    return f"{seconds / 86400:.0f} d"


def ago(moment: datetime, reference: datetime | None = None) -> str:
    return span(max(((reference or now()) - moment).total_seconds(), 0.0)) + " ago"


def moment(text: str, reference: datetime | None = None) -> datetime:
    """``6h`` (that long before now), or an ISO time (``2026-11-23T10:00``, local if naive)."""
    reference = reference or now()
    try:
        return reference - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected a duration before now (6h, 90m) or a time such as "
                         f"2026-11-23T10:00, got {text!r}") from None
    return parsed if parsed.tzinfo else parsed.astimezone()
