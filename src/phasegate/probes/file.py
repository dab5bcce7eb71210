"""``file``: a file exists and still holds its key markers — the guardrail for infra files."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from phasegate.observation import Verdict
from phasegate.probes import capture
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec

_MAX_READ = 16 * 1024 * 1024


class FileParams(ProbeParams):
    path: str = Field(description="file path, relative to the plan's directory")
    exists: bool = Field(True, description="false: the file must NOT exist")
    contains: list[str] = Field(default_factory=list, description="regexes that must all match")
    markers: list[str] = Field(default_factory=list, description="literal strings that must appear")
    absent: list[str] = Field(default_factory=list, description="regexes that must not match")

    @field_validator("contains", "absent")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            re.compile(pattern)
        return value

    def describe(self) -> str:
        return self.path


async def check(params: FileParams, ctx: ProbeContext) -> Verdict:
    path = ctx.base_dir / params.path
    expected = _expectation(params)
    if not params.exists:
        present = path.exists()
        return Verdict(not present, expected, "exists" if present else "absent")
    if not path.is_file():
        return Verdict(False, expected, "is a directory" if path.is_dir() else "missing")
    try:
        with path.open("rb") as handle:
            text = handle.read(_MAX_READ).decode(errors="replace")
    except OSError as exc:
        return Verdict(False, expected, f"unreadable: {exc.strerror}")
    problems = [f"no match for /{p}/" for p in params.contains if not re.search(p, text, re.M)]
    problems += [f"marker {m!r} missing" for m in params.markers if m not in text]
    problems += [f"forbidden /{p}/ present" for p in params.absent if re.search(p, text, re.M)]
    observed = "; ".join(problems) if problems else f"present, {len(text)} characters"
    detail = f"{path}\n{capture.cap(text, 4096)}"
    return Verdict(not problems, expected, observed, detail=detail, data={"size": len(text)})


def _expectation(params: FileParams) -> str:
    if not params.exists:
        return "absent"
    parts = ["exists"]
    parts += [f"~ /{p}/" for p in params.contains]
    parts += [f"holds {m!r}" for m in params.markers]
    parts += [f"!~ /{p}/" for p in params.absent]
    return ", ".join(parts)


PROBES = [ProbeSpec("file", FileParams, check, "a file exists and holds its markers")]
