"""The public Python API is a curated list; drift fails here (as httpx does it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import phasegate
from phasegate.errors import PlanError


def test_exported_members_are_exactly_the_documented_ones() -> None:
    assert sorted(phasegate.__all__) == [
        "ActionError", "Observation", "PhasegateError", "Plan", "PlanError", "ProbeError",
        "StoreError", "TargetError", "__version__", "load_plan", "probe", "run",
    ]
    for name in phasegate.__all__:
        assert getattr(phasegate, name) is not None


def test_importing_phasegate_loads_no_heavy_library() -> None:
    code = "import sys, phasegate; print(sorted(m for m in ('pydantic', 'httpx', 'sqlalchemy', "
    code += "'rich', 'typer') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_probe_entry_point() -> None:
    seen = phasegate.probe({"command": {"run": ["true"]}})
    assert seen.passed and seen.observed == "exit 0"
    with pytest.raises(PlanError, match="did you mean 'tcp'"):
        phasegate.probe({"tpc": {}})


def test_run_entry_point_records_a_check(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: api}\nassumptions:\n"
        "  probes:\n    - command: {run: ['true']}\n    - file: {path: '${input.file}'}\n")
    store = str(tmp_path / "e.db")
    result = phasegate.run(tmp_path / "plan.yaml", inputs={"file": "plan.yaml"}, stages=("R",),
                           store=store, reports_dir=tmp_path / "reports")
    assert result.status == "passed", result.detail
    assert Path(result.files["evidence"]).is_file()
    missing = phasegate.run(tmp_path / "plan.yaml", inputs={"file": "gone.yaml"},
                            stages=("R",), store=store, reports_dir=tmp_path / "reports")
    assert missing.status == "failed" and "missing" in missing.detail
