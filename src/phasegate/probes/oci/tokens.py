"""Bearer tokens and auth challenges, cached for the whole process.

Tokens are kept per (realm, service, scope, identity) until shortly before ``expires_in``
runs out, so a warm probe costs one request. Challenges are kept per registry, so even a
probe in a new event loop knows where to get its token without asking first. The cache is
plain data (no sockets), so it outlives any one event loop.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Literal

DEFAULT_EXPIRES_IN = 60.0  # the distribution spec's default when a token server says nothing
_MARGIN = 0.1  # renew when 90 % of a token's life has gone, so none expires in flight


@dataclass(frozen=True)
class Challenge:
    scheme: Literal["none", "basic", "bearer"]
    realm: str = ""
    service: str = ""


TokenKey = tuple[str, str, str, str]

_lock = threading.Lock()
_challenges: dict[str, Challenge] = {}
_tokens: dict[TokenKey, tuple[str, float]] = {}


def identity(username: str | None, password: str | None) -> str:
    """Who asked, without keeping the password: tokens of one user never serve another."""
    if not username:
        return ""
    return f"{username}:{hashlib.sha256((password or '').encode()).hexdigest()[:16]}"


def challenge(base_url: str) -> Challenge | None:
    with _lock:
        return _challenges.get(base_url)


def remember_challenge(base_url: str, found: Challenge) -> None:
    with _lock:
        _challenges[base_url] = found


def token(key: TokenKey) -> str | None:
    with _lock:
        entry = _tokens.get(key)
        if entry is None:
            return None
        value, renew_at = entry
        if time.monotonic() >= renew_at:
            del _tokens[key]
            return None
        return value


def remember_token(key: TokenKey, value: str, expires_in: float | None, fetched_at: float) -> None:
    life = expires_in if expires_in and expires_in > 0 else DEFAULT_EXPIRES_IN
    with _lock:
        _tokens[key] = (value, fetched_at + life * (1 - _MARGIN))


def forget_token(key: TokenKey) -> None:
    with _lock:
        _tokens.pop(key, None)


def forget_all() -> None:
    """Start cold (tests measure cold and warm round trips; long-lived servers may reset)."""
    with _lock:
        _challenges.clear()
        _tokens.clear()


def parse_challenge(header: str) -> Challenge | None:
    """``Bearer realm="…",service="…",scope="…"`` or ``Basic realm="…"`` → Challenge."""
    scheme, _, rest = header.strip().partition(" ")
    params = dict(_params(rest))
    if scheme.lower() == "bearer" and params.get("realm"):
        return Challenge("bearer", params["realm"], params.get("service", ""))
    if scheme.lower() == "basic":
        return Challenge("basic", params.get("realm", ""))
    return None


def challenge_error(header: str) -> str:
    """The ``error`` a Bearer challenge names (``insufficient_scope``, ``invalid_token``)."""
    _, _, rest = header.strip().partition(" ")
    return dict(_params(rest)).get("error", "")


def _params(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        equals = text.find("=", i)
        if equals < 0:
            break
        name = text[i:equals].strip(" ,")
        i = equals + 1
        if i < len(text) and text[i] == '"':
            end = i + 1
            value = ""
            while end < len(text) and text[end] != '"':
                if text[end] == "\\" and end + 1 < len(text):
                    end += 1
                value += text[end]
                end += 1
            i = end + 1
        else:
            end = text.find(",", i)
            end = len(text) if end < 0 else end
            value = text[i:end].strip()
            i = end
        found.append((name.lower(), value))
    return found
