"""Masking of secret values wherever text leaves phasegate.

Secret values are registered once, at the source (``${env:...}`` inputs, fields marked
secret, credentials); every writer of text (store, logs, reports, error output) passes
its text through :func:`mask`. Encoded forms are masked too, because captured command
output often carries a token base64- or JSON-encoded.
"""

from __future__ import annotations

import base64
import json
import threading

MASK = "******"
_MIN_LENGTH = 4  # masking "a" or "on" would shred ordinary text and reveal nothing

_lock = threading.Lock()
_forms: set[str] = set()


def _encoded_forms(value: str) -> set[str]:
    raw = value.encode()
    forms = {
        value,
        json.dumps(value)[1:-1],
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    }
    # base64 of the value embedded in a longer string is shifted by 0, 1 or 2 bytes;
    # mask the stable middle of each alignment so "user:token" encodings are caught too.
    for shift in (1, 2):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        stable = encoded[4 : len(encoded) - 4]
        if len(stable) >= 8:
            forms.add(stable)
    return {form.rstrip("=") if len(form.rstrip("=")) >= _MIN_LENGTH else form for form in forms}


def register(value: str | None) -> None:
    """Treat ``value`` as a secret from now on, in this process."""
    if value is None or len(value) < _MIN_LENGTH:
        return
    with _lock:
        _forms.update(_encoded_forms(value))


def mask(text: str) -> str:
    """Return ``text`` with every known secret, in every known encoding, replaced."""
    if not _forms or not text:
        return text
    with _lock:
        forms = sorted(_forms, key=len, reverse=True)
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def mask_data(data: object) -> object:
    """Mask every string inside plain JSON-like data."""
    if isinstance(data, str):
        return mask(data)
    if isinstance(data, dict):
        return {mask(str(key)): mask_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [mask_data(item) for item in data]
    return data


def forget_all() -> None:
    """Drop every registered secret (tests, and long-lived servers between runs)."""
    with _lock:
        _forms.clear()
