"""Recurring failure patterns, mined from every run and verification in the store.

A pattern is a failure signature (probe kind + reason, see :mod:`signatures`) seen in at
least two runs. ``PATTERNS.md`` lists them with stable IDs (``PAT-001``…), first and last
seen, counts and example evidence; ``IMPROVEMENTS.md`` lists the recommendations they lead
to (``IMP-001``…) with a status people may edit (open, accepted, done, rejected).
Re-running never duplicates an entry: the files are read back, IDs and statuses kept,
counts and dates recomputed, and lines people added under an entry kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from phasegate.reports import clock, signatures
from phasegate.store.records import FailureRecord

PATTERNS = "PATTERNS.md"
IMPROVEMENTS = "IMPROVEMENTS.md"
SKIPPED_STATUSES = ("refused", "interrupted", "blocked")  # no cause of their own
_ENTRY = re.compile(r"^## ((?:PAT|IMP)-\d+)\b")
_FIELD = re.compile(r"^- (signature|status|key): `?([^`]*?)`?\s*$")
_GENERATED = ("- signature:", "- seen:", "- where:", "- first seen:", "- last seen:",
              "- example evidence:", "- improvement:", "- key:", "- status:", "- from patterns:",
              "- first proposed:")


@dataclass(frozen=True)
class Occurrence:
    key: str
    kind: str
    reason: str
    recommendation: str | None
    known: str | None  # the catalogue key, when the reason is a known one
    run_id: str
    command: str
    subject: str  # plan name, task id, or the command
    check: str
    observed: str
    at: datetime


@dataclass
class Pattern:
    key: str
    kind: str
    reason: str
    recommendation: str | None
    known: str | None
    occurrences: list[Occurrence] = field(default_factory=list)
    id: str = ""
    new: bool = False

    @property
    def runs(self) -> int:
        return len({o.run_id for o in self.occurrences})

    @property
    def first(self) -> datetime:
        return min(o.at for o in self.occurrences)

    @property
    def last(self) -> datetime:
        return max(o.at for o in self.occurrences)

    @property
    def improvement_key(self) -> str:
        return self.known or f"investigate:{self.key}"

    def to_dict(self) -> dict[str, Any]:
        example = self.occurrences[-1]
        return {"id": self.id, "signature": self.key, "probe": self.kind,
                "reason": self.reason, "runs": self.runs, "count": len(self.occurrences),
                "first_seen": self.first.isoformat(), "last_seen": self.last.isoformat(),
                "subjects": sorted({o.subject for o in self.occurrences}),
                "example": {"run_id": example.run_id, "subject": example.subject,
                            "check": example.check, "observed": example.observed},
                "recommendation": self.recommendation, "new": self.new}


def occurrences(failures: Sequence[FailureRecord]) -> list[Occurrence]:
    found = []
    for failure in failures:
        if failure.step_status in SKIPPED_STATUSES:
            continue
        run = failure.run
        if failure.observation is not None:
            kind = failure.observation.probe
            text = failure.observation.observed
            check = failure.observation.name
        else:
            kind = signatures.step_kind(failure.stage, failure.kind)
            text = failure.detail
            check = failure.step
        signature = classify(kind, text, failure.step_status)
        found.append(Occurrence(
            signature.key, kind, signature.reason, signature.recommendation,
            signature.known.key if signature.known else None, run.id, run.command,
            run.plan_name or run.command, check, text, failure.at))
    return found


def classify(kind: str, text: str, step_status: str) -> signatures.Signature:
    """A failure's signature. A gate that timed out on a check whose last answer is
    progress ("1 of 3 replicas updated") failed by running out of time: that is its cause,
    not the progress text (which still says where it stood)."""
    signature = signatures.classify(kind, text)
    if signature.known is None and step_status == "timed out":
        return signatures.classify(kind, f"timed out; last seen: {text}")
    return signature


def group(found: Sequence[Occurrence], min_runs: int = 2) -> list[Pattern]:
    patterns: dict[str, Pattern] = {}
    for occurrence in found:
        pattern = patterns.setdefault(occurrence.key, Pattern(
            occurrence.key, occurrence.kind, occurrence.reason, occurrence.recommendation,
            occurrence.known))
        pattern.occurrences.append(occurrence)
    recurring = [p for p in patterns.values() if p.runs >= min_runs]
    return sorted(recurring, key=lambda p: (p.first, p.key))


@dataclass(frozen=True)
class Maintained:
    patterns: list[Pattern]
    improvements: list[dict[str, Any]]
    files: dict[str, str]


def maintain(directory: Path, patterns: list[Pattern]) -> Maintained:
    """Write PATTERNS.md and IMPROVEMENTS.md in ``directory``, keeping IDs and statuses."""
    patterns_path = directory / PATTERNS
    improvements_path = directory / IMPROVEMENTS
    old_patterns = _read_entries(patterns_path, "signature")
    old_improvements = _read_entries(improvements_path, "key")
    next_pattern = _next_number(old_patterns.values(), "PAT")
    for pattern in patterns:
        old = old_patterns.get(pattern.key)
        if old:
            pattern.id = old["id"]
        else:
            pattern.id = f"PAT-{next_pattern:03d}"
            pattern.new = True
            next_pattern += 1
    patterns = sorted(patterns, key=lambda p: int(p.id.split("-")[1]))
    improvements = _improvements(patterns, old_improvements)
    by_pattern = {p: i["id"] for i in improvements for p in i["patterns"]}
    seen = {p.key for p in patterns}
    kept = [entry for key, entry in old_patterns.items() if key not in seen]
    directory.mkdir(parents=True, exist_ok=True)
    patterns_path.write_text(_patterns_md(patterns, kept, by_pattern, old_patterns),
                             encoding="utf-8")
    improvements_path.write_text(_improvements_md(improvements), encoding="utf-8")
    return Maintained(patterns, improvements,
                      {"patterns": str(patterns_path), "improvements": str(improvements_path)})


def _improvements(patterns: list[Pattern],
                  old: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    next_number = _next_number(old.values(), "IMP")
    by_key: dict[str, dict[str, Any]] = {}
    for pattern in patterns:
        key = pattern.improvement_key
        entry = by_key.get(key)
        if entry is None:
            previous = old.get(key)
            text = pattern.recommendation or (
                f"Investigate why `{pattern.kind}` keeps failing with “{pattern.reason}”, and "
                "add a probe that catches it first: an assumption in the plan (stage R) or a "
                "criterion in the task.")
            entry = {"id": previous["id"] if previous else f"IMP-{next_number:03d}",
                     "key": key, "text": text,
                     "status": previous.get("status", "open") if previous else "open",
                     "first_proposed": previous.get("first proposed") if previous else
                     clock.stamp(clock.now()),
                     "patterns": [], "extra": previous.get("extra", []) if previous else [],
                     "new": previous is None}
            if previous is None:
                next_number += 1
            by_key[key] = entry
        entry["patterns"].append(pattern.id)
    for key, previous in old.items():
        if key not in by_key:  # kept as written: its patterns are not in this store
            by_key[key] = {"id": previous["id"], "key": key, "text": previous.get("title", ""),
                           "status": previous.get("status", "open"),
                           "first_proposed": previous.get("first proposed"),
                           "patterns": previous.get("from patterns", "").split(", ")
                           if previous.get("from patterns") else [],
                           "extra": previous.get("extra", []), "new": False}
    return sorted(by_key.values(), key=lambda e: e["id"])


def _next_number(entries: Any, prefix: str) -> int:
    numbers = [int(e["id"].split("-")[1]) for e in entries if e["id"].startswith(prefix)]
    return max(numbers, default=0) + 1


def _read_entries(path: Path, key_field: str) -> dict[str, dict[str, Any]]:
    """Entries of a file written here before: by signature (or key), with their lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    entries: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        match = _ENTRY.match(line)
        if match:
            current = {"id": match.group(1), "title": line.split(" · ", 1)[-1].strip()
                       if " · " in line else "", "extra": [], "lines": [line]}
            entries[f"#{match.group(1)}"] = current
            continue
        if current is None:
            continue
        current["lines"].append(line)
        field_match = re.match(r"^- ([a-z ]+): (.*)$", line)
        if field_match and line.startswith(_GENERATED):
            current[field_match.group(1)] = field_match.group(2).strip().strip("`")
        elif line.strip() and not line.startswith(_GENERATED):
            current["extra"].append(line)
    keyed = {}
    for entry in entries.values():
        key = entry.get(key_field)
        if key:
            keyed[key] = entry
    return keyed


def _patterns_md(patterns: list[Pattern], kept: list[dict[str, Any]],
                 improvements: dict[str, str], old: dict[str, dict[str, Any]]) -> str:
    lines = ["# Recurring failure patterns", "",
             "Maintained by `phasegate patterns` from the evidence store: IDs are stable, "
             "counts and dates are recomputed on every run, and lines you add under an entry "
             "are kept.", "",
             "| ID | probe | reason | runs | first seen | last seen | improvement |",
             "|---|---|---|---|---|---|---|"]
    for p in patterns:
        lines.append(f"| {p.id} | `{p.kind}` | {_cell(p.reason)} | {p.runs} | "
                     f"{clock.stamp(p.first)} | {clock.stamp(p.last)} | "
                     f"{improvements.get(p.id, '—')} |")
    for entry in kept:
        lines.append(f"| {entry['id']} | — | {_cell(entry['title'])} | {entry.get('seen', '')} "
                     "| | | (not in this store) |")
    for p in patterns:
        example = p.occurrences[-1]
        subjects = sorted({o.subject for o in p.occurrences})
        lines += ["", f"## {p.id} · `{p.kind}` · {p.reason}", "",
                  f"- signature: `{p.key}`",
                  f"- seen: {len(p.occurrences)} time{'s' if len(p.occurrences) != 1 else ''} "
                  f"in {p.runs} run{'s' if p.runs != 1 else ''}",
                  f"- where: {', '.join(subjects)}",
                  f"- first seen: {clock.stamp(p.first)}",
                  f"- last seen: {clock.stamp(p.last)}",
                  f"- example evidence: run `{example.run_id}` ({example.command} "
                  f"{example.subject}) · {_one_line(example.check)} · observed "
                  f"“{_one_line(example.observed)}”",
                  f"- improvement: {improvements.get(p.id, '—')}"]
        lines += old.get(p.key, {}).get("extra", [])
    for entry in kept:
        lines += ["", *entry["lines"]]
    return "\n".join(lines).rstrip() + "\n"


def _improvements_md(improvements: list[dict[str, Any]]) -> str:
    lines = ["# Improvements", "",
             "Recommendations derived from recurring failure patterns (see PATTERNS.md), "
             "maintained by `phasegate patterns`. Set a status by editing its `- status:` "
             "line (open, accepted, done, rejected); it is kept on the next run.", "",
             "| ID | status | recommendation | from patterns |", "|---|---|---|---|"]
    for item in improvements:
        lines.append(f"| {item['id']} | {item['status']} | {_cell(item['text'])} | "
                     f"{', '.join(item['patterns']) or '—'} |")
    for item in improvements:
        lines += ["", f"## {item['id']} · {item['text']}", "",
                  f"- key: `{item['key']}`",
                  f"- status: {item['status']}",
                  f"- from patterns: {', '.join(item['patterns']) or '—'}",
                  f"- first proposed: {item['first_proposed'] or '—'}"]
        lines += item["extra"]
    return "\n".join(lines).rstrip() + "\n"


def _one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= 200 else flat[:199] + "…"


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")
