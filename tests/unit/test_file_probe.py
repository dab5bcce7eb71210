"""The ``file`` probe on real files: what it says of a missing path, a directory, a FIFO
(never waited on) and a file that holds its markers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from phasegate.probes import file
from phasegate.probes.base import ProbeContext


def seen(tmp_path: Path, **params: object) -> tuple[bool, str]:
    verdict = asyncio.run(file.check(file.FileParams(**params), ProbeContext(base_dir=tmp_path)))
    return verdict.passed, verdict.observed


def test_what_the_path_is(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would block without O_NONBLOCK
    (tmp_path / "app.conf").write_text("listen 8080\n")
    assert seen(tmp_path, path="nope") == (False, "missing")
    assert seen(tmp_path, path="dir") == (False, "is a directory")
    assert seen(tmp_path, path="fifo") == (False, "missing")
    assert seen(tmp_path, path="app.conf", markers=["8080"]) == (True, "present, 12 characters")
    assert seen(tmp_path, path="app.conf", contains=["^port"]) == (False, "no match for /^port/")
    assert seen(tmp_path, path="nope", exists=False) == (True, "absent")


def test_a_pattern_that_is_no_regex_is_a_located_plan_error() -> None:
    # was an re.error traceback; a run whose secret input feeds a pattern met it too, when
    # its retrospective reloaded the plan with the recorded (masked: "******") inputs
    import pytest

    from phasegate.errors import PlanError
    from phasegate.plan.loader import loads_plan

    for field in ("contains", "absent"):
        with pytest.raises(PlanError) as caught:
            loads_plan("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: x}\n"
                       "assumptions:\n  probes:\n"
                       f"    - file: {{path: a.txt, {field}: ['*oops']}}\n")
        assert caught.value.line == 6, caught.value
        assert "regular expression" in str(caught.value) and "*oops" in str(caught.value)
