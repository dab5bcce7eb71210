"""A probe as written in a plan: a one-key mapping whose key names the probe."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from phasegate.durations import parse_duration
from phasegate.plan import messages
from phasegate.probes import registry
from phasegate.probes.base import ProbeParams

# Keys allowed beside the probe's own key; they tune how a gate runs the probe.
OPTION_KEYS = ("name", "interval", "max_interval")


@dataclass(frozen=True)
class ProbeCall:
    kind: str
    params: ProbeParams
    name: str
    interval: float | None = None
    max_interval: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def params_dict(self) -> dict[str, Any]:
        """The parameters as given, as plain data (asked on every attempt: computed once)."""
        return self.params.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class ProbeCallError(ValueError):
    """Raised with a location relative to the probe mapping, so the loader can place it."""

    def __init__(
        self,
        message: str,
        loc: tuple[str | int, ...] = (),
        suggestion: str | None = None,
        *,
        at_key: bool = False,
    ) -> None:
        self.loc = loc
        self.suggestion = suggestion
        self.at_key = at_key  # point at the key itself (an unknown name), not at its value
        super().__init__(message)


def build(mapping: object) -> ProbeCall:
    """Turn ``{kind: {params}, name?: ..., interval?: ...}`` into a :class:`ProbeCall`."""
    from pydantic import ValidationError

    if not isinstance(mapping, dict):
        raise ProbeCallError(
            f"expected a probe as a one-key mapping such as {{http: {{url: ...}}}}, "
            f"got {type(mapping).__name__}"
        )
    probe_keys = [key for key in mapping if key not in OPTION_KEYS]
    if len(probe_keys) != 1:
        named = ", ".join(repr(k) for k in probe_keys) or "none"
        raise ProbeCallError(f"expected exactly one probe key, found {named}")
    kind = str(probe_keys[0])
    spec = registry.get(kind)
    if spec is None:
        raise ProbeCallError(
            f"unknown probe '{kind}'", (kind,), registry.suggest(kind), at_key=True
        )
    body = mapping[kind]
    if body is None:
        body = {}
    try:
        params = spec.params.model_validate(body)
    except ValidationError as exc:
        where, first, _ = messages.pick(exc.errors(), body)
        suggestion = None
        if first["type"] == "extra_forbidden" and len(where) == 1:
            suggestion = messages.suggest_field(spec.params, str(where[0]))
        at_key = first["type"] == "extra_forbidden"
        raise ProbeCallError(
            messages.describe(first), (kind, *where), suggestion, at_key=at_key
        ) from None
    options: dict[str, float | None] = {}
    for key in ("interval", "max_interval"):
        try:
            options[key] = parse_duration(mapping[key]) if key in mapping else None
        except ValueError as exc:
            raise ProbeCallError(str(exc), (key,)) from None
    name = mapping.get("name")
    if name is not None and not isinstance(name, str):
        raise ProbeCallError("expected a string", ("name",))
    return ProbeCall(
        kind=kind,
        params=params,
        name=name or f"{kind} {params.describe()}".strip(),
        interval=options["interval"],
        max_interval=options["max_interval"],
        raw={str(k): v for k, v in mapping.items()},
    )
