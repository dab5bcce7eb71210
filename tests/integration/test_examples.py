"""Every plan under examples/ runs, as the README demo runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_local_service_example_passes_and_prints_its_report() -> None:
    result = subprocess.run([str(ROOT / "examples" / "local-service" / "run.sh")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("evidence report: ")
    report = Path(last.removeprefix("evidence report: "))
    text = report.read_text()
    assert "7 passed, 0 failed" in text
    assert "deploy repo committed and pushed" in text


def test_every_example_plan_loads() -> None:
    from phasegate.plan.loader import load_plan

    plans = sorted(ROOT.glob("examples/*/plan.yaml"))
    assert plans
    for plan in plans:
        inputs = {"port": 1, "repo": ".", "version": "x", "namespace": "n", "registry": "r:1",
                  "api_tag": "1", "max_deployments": 2}
        assert load_plan(plan, inputs).metadata.name


def test_readme_main_command_runs_the_shop_against_its_own_sandbox() -> None:
    """scripts/demo, as a new user runs it: sandbox up, the shop end to end, sandbox down."""
    result = subprocess.run([str(ROOT / "scripts" / "demo")], capture_output=True, text=True,
                            timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    for kind in ("evidence", "retrospective", "deployment record"):
        (line,) = [entry for entry in lines if entry.startswith(f"{kind}: ")]
        assert (ROOT / line.split(": ", 1)[1]).is_file()
    assert any(line.startswith("demo: the shop ran end to end in ") for line in lines)
