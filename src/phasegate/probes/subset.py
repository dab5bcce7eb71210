"""Is an object a subset of another? The rule kuttl asserts by (and ``k8s.match``): every
key of the expected mapping is in the actual one with a matching value; a list matches a
list of the same length whose items match in order; anything else must be equal."""

from __future__ import annotations

from typing import Any

REDACTED = "(redacted)"


SECRET_FIELDS = ("data", "stringData")


def mismatch(expected: Any, actual: Any, path: str = "", *, secret: bool = False) -> str | None:
    """Where and how ``actual`` fails to contain ``expected``, or None when it does.
    ``secret``: the objects are Secrets, whose values the answer never shows."""
    where = path or "."
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected a mapping, found {_kind(actual)}"
        for key, value in expected.items():
            inner = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{inner}: missing"
            found = mismatch(value, actual[key], inner, secret=secret)
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, found {_kind(actual)}"
        if len(expected) != len(actual):
            # kuttl's rule: a list in an assert is the whole list, not a subset of it
            return f"{where}: expected {len(expected)} items, found {len(actual)}"
        for index, (want, have) in enumerate(zip(expected, actual, strict=True)):
            found = mismatch(want, have, f"{path}[{index}]", secret=secret)
            if found:
                return found
        return None
    if not _equal(expected, actual):
        if secret and path.split(".")[0] in SECRET_FIELDS:
            return f"{where}: a different value ({REDACTED})"
        return f"{where}: expected {expected!r}, found {actual!r}"
    return None


def shaped(expected: Any, actual: Any) -> Any:
    """``actual`` cut to the keys ``expected`` names: what a diff of the two should show."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {key: shaped(expected[key], actual[key]) for key in expected if key in actual}
    if isinstance(expected, list) and isinstance(actual, list):
        return [shaped(expected[index], have) if index < len(expected) else have
                for index, have in enumerate(actual)]
    return actual


def redact_secret(obj: Any) -> Any:
    """A Secret as it may be shown: its values replaced (what was asserted stays unsaid)."""
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return obj
    shown = dict(obj)
    for field in SECRET_FIELDS:
        if isinstance(shown.get(field), dict):
            shown[field] = {key: REDACTED for key in shown[field]}
    return shown


def secret_values(obj: Any) -> list[str]:
    """The values a Secret manifest holds, as written and (``data``) decoded."""
    import base64
    import binascii
    import contextlib

    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return []
    found = []
    for field in SECRET_FIELDS:
        for value in (obj.get(field) or {}).values() if isinstance(obj.get(field), dict) else ():
            found.append(str(value))
            if field == "data":
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    found.append(base64.b64decode(str(value), validate=True).decode())
    return found


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and bool(expected == actual)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
