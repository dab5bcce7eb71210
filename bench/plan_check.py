"""`phasegate check` of a plan with N file probes (no cluster): seconds and max RSS.

Goal (issue 11, item 12): 10,000 file probes in ≤ 5 s and ≤ 300 MB. Measured in the same run
for the ratios: `python -c pass`, a plain C yaml.safe_load of the same file, and the plan's
YAML read by ruamel's round-trip parser (what the loader used before). The last line is one
JSON object.

Run: .venv/bin/python bench/plan_check.py [N]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASEGATE = str(Path(sys.executable).parent / "phasegate")
FILES = 100


def write_plan(folder: Path, probes: int) -> Path:
    for i in range(FILES):
        (folder / f"f{i}.txt").write_text(f"ThreadingHTTPServer /health line {i}\n")
    lines = ["apiVersion: phasegate/v1", "kind: Plan", "metadata: {name: files}",
             "assumptions:", "  probes:"]
    for i in range(probes):
        lines.append(f"    - file: {{path: f{i % FILES}.txt, markers: ['/health', "
                     f"'line {i % FILES}'], contains: ['^Thread']}}")
        lines.append(f"      name: file-{i}")
    path = folder / "plan.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measured(argv: list[str], cwd: Path) -> tuple[float, float, int, float]:
    """(seconds, max RSS in MB, exit code, CPU seconds) of one child process. CPU is user +
    system time, which a loaded machine inflates far less than the wall time."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, child.returncode, usage.ru_utime + usage.ru_stime


def main() -> None:
    probes = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plan = write_plan(folder, probes)
        python_pass, python_rss, _, _ = measured([sys.executable, "-c", "pass"], folder)
        safe_load, safe_rss, _, _ = measured(
            [sys.executable, "-c", "import sys, yaml; yaml.load(open(sys.argv[1]), "
             "Loader=yaml.CSafeLoader)", str(plan)], folder)
        ruamel, ruamel_rss, _, _ = measured(
            [sys.executable, "-c", "import sys; from ruamel.yaml import YAML; "
             "YAML(typ='rt').load(open(sys.argv[1]))", str(plan)], folder)
        check, check_rss, code, check_cpu = measured(
            [PHASEGATE, "check", str(plan), "--store", str(folder / "evidence.db")], folder)
    assert code == 0, f"phasegate check exited {code}"
    print(f"python -c pass:          {python_pass:6.2f} s {python_rss:6.0f} MB")
    print(f"yaml CSafeLoader load:   {safe_load:6.2f} s {safe_rss:6.0f} MB")
    print(f"ruamel round-trip load:  {ruamel:6.2f} s {ruamel_rss:6.0f} MB (the old parser alone)")
    print(f"phasegate check:         {check:6.2f} s {check_rss:6.0f} MB ({probes} file probes, "
          f"{check_cpu:.2f} s CPU)")
    print(json.dumps({
        "bench": "plan_check",
        "probes": probes,
        "python_pass_s": round(python_pass, 3),
        "safe_load_s": round(safe_load, 3),
        "ruamel_rt_load_s": round(ruamel, 3),
        "check_s": round(check, 3),
        "check_max_rss_mb": round(check_rss, 1),
        "check_cpu_s": round(check_cpu, 3),
        "check_vs_safe_load": round(check / safe_load, 2),
        "check_vs_ruamel_load": round(check / ruamel, 2),
        "goal_s": 5.0,
        "goal_mb": 300,
        "within_goal": check <= 5.0 and check_rss <= 300,
        "load_average": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
