"""bench/mcp_overhead.py still runs (smallest size): its last line is the JSON it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "mcp_overhead.py"


def test_the_bench_runs_and_ends_with_its_figures() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--runs", "2"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "mcp_overhead" and figures["runs"] == 2
    for key in ("function_ms", "mcp_stdio_ms", "cli_ms", "goal_ms"):
        assert figures[key] > 0, key
    assert figures["goal_ms"] == round(1.1 * figures["function_ms"] + 5, 2)
    assert isinstance(figures["within_goal"], bool)
