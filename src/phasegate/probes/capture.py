"""Captured output, size-capped and masked before it can reach the store."""

from __future__ import annotations

from phasegate import secrets

MAX_CAPTURE = 64 * 1024


def cap(text: str, limit: int = MAX_CAPTURE) -> str:
    """Keep the head and tail of long output; the middle is rarely the evidence."""
    text = secrets.mask(text)
    if len(text) <= limit:
        return text
    half = limit // 2
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n… [{dropped} characters omitted] …\n{text[-half:]}"


def excerpt(text: str, limit: int = 300) -> str:
    """One short line for tables and failure messages."""
    flat = " ".join(secrets.mask(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
