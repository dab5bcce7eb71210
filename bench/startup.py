"""How long `phasegate --help` and `phasegate version` take, against `python -c pass`
measured in the same run.

Goal: ≤ 150 ms each on the 2-core machine class. `version` is answered before typer is
imported, so it costs little more than Python's own start. On a loaded machine compare the
ratios to `python -c pass`. The last line is one JSON object.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15
PHASEGATE = str(Path(sys.executable).parent / "phasegate")


def timed(argv: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    timed([PHASEGATE, "--help"])  # warm the file cache and .pyc files
    timed([PHASEGATE, "version", "--json"])
    baseline = timed([sys.executable, "-c", "pass"])
    help_time = timed([PHASEGATE, "--help"])
    version_time = timed([PHASEGATE, "version"])
    version_json_time = timed([PHASEGATE, "version", "--json"])
    print(f"python -c pass:     {baseline * 1000:7.1f} ms (median of {RUNS})")
    print(f"phasegate --help:   {help_time * 1000:7.1f} ms")
    print(f"phasegate version:  {version_time * 1000:7.1f} ms")
    print(f"version --json:     {version_json_time * 1000:7.1f} ms")
    print(json.dumps({
        "bench": "startup",
        "runs": RUNS,
        "python_pass_ms": round(baseline * 1000, 1),
        "help_ms": round(help_time * 1000, 1),
        "version_ms": round(version_time * 1000, 1),
        "version_json_ms": round(version_json_time * 1000, 1),
        "help_ratio": round(help_time / baseline, 2),
        "version_ratio": round(version_time / baseline, 2),
        "goal_ms": 150,
        "within_goal": max(help_time, version_time, version_json_time) <= 0.150,
    }))


if __name__ == "__main__":
    main()
