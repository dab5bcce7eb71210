"""Memory and time to load a large legitimate plan (no aliases): N probes, written out.

Run: .venv/bin/python bench/plan_memory.py [N]. The last line is one JSON object:
peak traced Python memory, the process's max RSS, and seconds to load.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from phasegate.plan import loader


def plan_text(probes: int) -> str:
    lines = ["apiVersion: phasegate/v1", "kind: Plan", "metadata: {name: big}",
             "assumptions:", "  probes:"]
    for i in range(probes):
        if i % 2:
            lines.append(f"    - tcp: {{host: 10.0.{i // 250 % 250}.{i % 250}, port: {1000 + i}}}")
        else:
            lines.append(f"    - http: {{url: 'http://svc-{i}.shop:8080/health', status: 200,"
                         f" json: {{'$.status': ok}}}}")
            lines.append(f"      name: health-{i}")
    return "\n".join(lines) + "\n"


def main() -> None:
    probes = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.yaml"
        path.write_text(plan_text(probes))
        tracemalloc.start()
        started = time.perf_counter()
        plan = loader.load_plan(path)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert len(plan.probe_calls()) == probes
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"probes": probes, "file_kb": round(len(plan_text(probes)) / 1024),
                      "peak_traced_mb": round(peak / 2**20, 1), "max_rss_mb": round(rss_mb, 1),
                      "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
