"""Masking of secret values wherever text leaves phasegate.

Secret values are registered once, at the source (``${env:...}`` inputs, fields marked
secret, credentials); every writer of text (store, logs, reports, error output) passes
its text through :func:`mask`. Encoded forms are masked too, because captured command
output often carries a token base64- or JSON-encoded.

Credentials written into a URL (a userinfo password, ``token=``, ``sig=``,
``X-Amz-Signature=``, ``api_key=`` … query parameters) are secrets because of where they
stand, whoever wrote them: :func:`register_url` registers them where a URL comes in, and
:func:`mask` also blanks them in any URL it meets that was never registered (a redirect
to a presigned URL, a URL in command output).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import unquote

MASK = "******"
_MIN_LENGTH = 4  # masking "a" or "on" would shred ordinary text and reveal nothing

_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@?#]*:)([^/\s@?#]+)(@)", re.IGNORECASE)
_CREDENTIAL_NAME = (r"[\w.-]*(?:token|secret|passw(?:or)?d|pwd|signature|api[-_]?key|apikey"
                    r"|private[-_]?key)[\w.-]*|sig|key|auth")
_QUERY_CREDENTIAL = re.compile(
    rf"([?&](?:{_CREDENTIAL_NAME})=)([^&#\s\"'<>]+)", re.IGNORECASE)

_lock = threading.Lock()
_forms: set[str] = set()
# bumped whenever the secrets change: text masked at an older generation must be masked again
_generation = 0
_MASKED_AT = "_phasegate_masked_at"


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
    global _generation
    forms = _encoded_forms(value)
    with _lock:
        if not forms <= _forms:
            _forms.update(forms)
            _generation += 1


def url_credentials(url: str) -> list[str]:
    """The credentials written into ``url``: its userinfo password, credential parameters."""
    found = [match.group(2) for match in _USERINFO.finditer(url)]
    found += [match.group(2) for match in _QUERY_CREDENTIAL.finditer(url)]
    return found


def register_url(url: str) -> None:
    """Treat the credentials in ``url`` as secrets, as written and percent-decoded."""
    for value in url_credentials(url):
        register(value)
        register(unquote(value))


def mask(text: str) -> str:
    """Return ``text`` with every known secret, in every known encoding, replaced, and the
    credentials of every URL in it blanked."""
    if not text:
        return text
    if "@" in text or "=" in text:
        text = _USERINFO.sub(rf"\g<1>{MASK}\g<3>", text)
        text = _QUERY_CREDENTIAL.sub(rf"\g<1>{MASK}", text)
    if not _forms:
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


def generation() -> int:
    """The current secrets' generation; take it *before* masking, for :func:`mark_masked`."""
    return _generation


def mark_masked(obj: object, at: int) -> None:
    """Note that every text of ``obj`` (an object owning its data) was masked with the
    secrets of generation ``at``, so a later writer need not mask it a second time."""
    obj.__dict__[_MASKED_AT] = at


def is_masked(obj: object) -> bool:
    """Whether ``obj`` was masked with the secrets known now (none registered since)."""
    return getattr(obj, "__dict__", {}).get(_MASKED_AT) == _generation


def forget_all() -> None:
    """Drop every registered secret (tests, and long-lived servers between runs)."""
    global _generation
    with _lock:
        _forms.clear()
        _generation += 1
