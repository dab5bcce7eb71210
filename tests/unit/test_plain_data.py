"""What workflow steps hand back, and what the store keeps of where a step belongs, is plain
data: JSON types and dataclasses of them, so the same steps can run as activities of another
engine (Temporal) whose inputs and outputs must be serialisable."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

import pytest

from phasegate.store import records
from phasegate.workflow import phases, pipeline, tracers, validation

PLAIN = (str, int, float, bool, type(None))


def _plain(hint: Any, seen: set[Any]) -> bool:
    if hint in PLAIN or hint is Any:  # Any: JSON documents (journal entries, previews)
        return True
    origin = typing.get_origin(hint)
    if origin in (list, tuple, dict, typing.Union, types.UnionType):
        return all(_plain(arg, seen) for arg in typing.get_args(hint) if arg is not Ellipsis)
    if dataclasses.is_dataclass(hint):
        if hint in seen:
            return True
        seen.add(hint)
        return all(_plain(h, seen) for h in typing.get_type_hints(hint).values())
    return False


@pytest.mark.parametrize("record", [phases.PhaseOutcome, tracers.TracerOutcome,
                                    validation.ValidationOutcome, pipeline.RunResult,
                                    records.StepPlace])
def test_step_outcomes_are_plain_data(record: type) -> None:
    hints = typing.get_type_hints(record)
    assert {name for name, hint in hints.items() if not _plain(hint, set())} == set()


def test_a_step_place_and_journal_survive_json() -> None:
    place = records.StepPlace(records.GATE, phase="api", phase_index=2)
    assert records.StepPlace(**json.loads(json.dumps(dataclasses.asdict(place)))) == place
    outcome = phases.PhaseOutcome(2, "api", "rolled back", "gate failed; rolled back: …")
    again = json.loads(json.dumps(dataclasses.asdict(outcome)))
    assert phases.PhaseOutcome(**again) == outcome
