"""The dashboard over a big store: 10,000 runs and 1,000,000 observations (and 20 domains
with a day of health history, deploy markers and test reports), against the same pages over
a small store (100 runs, 10,000 observations) built the same way, in the same run.

The stores are written through the store API in bulk (``start_run``/``start_step`` and
``record_many``, 25 observations per gate step; domain states with ``record_changes``).
``phasegate serve`` runs as its own process over each store; every page is asked
``--requests`` times in turn and timed server side (the ``Server-Timing`` header: from the
request reaching the application to its answer) and from the client; then Chromium loads
each page ``--loads`` times and reports its first contentful paint. Goal: every page's
server-side p95 <= 150 ms on the big store. The last line is one JSON object with the p95s
and the big/small ratios.

Usage: python bench/dashboard.py [--runs 10000] [--observations 1000000] [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from phasegate.domains import history
from phasegate.domains.records import DomainState, ProbeState, TestCase, TestReport
from phasegate.observation import Observation
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore

PHASEGATE = str(Path(sys.executable).parent / "phasegate")
GOAL_MS = 150.0
DOMAINS = 20
PER_STEP = 25
PLANS = 40  # runs cycle through 40 plans, two per domain


def fill(url: str, runs: int, observations: int, base: Path) -> dict[str, Any]:
    """A store like a busy team's: runs over the last 30 days, one in ten failing at its
    last gate, each gate step with PER_STEP observations (attempts of its checks). Runs and
    steps go in as two multi-row inserts into the store's tables, the observations through
    ``record_many`` (the store's bulk API, masking included), a step at a time."""
    from sqlalchemy import insert

    from phasegate.store import tables

    store = EvidenceStore(url)
    now = datetime.now(UTC)
    gates = max(observations // (PER_STEP * runs), 1)
    plans = [base / f"plan-{n:02d}.yaml" for n in range(PLANS)]
    started = time.monotonic()
    run_rows, step_rows, work = [], [], []
    for n in range(runs):
        failed = n % 10 == 3
        plan = plans[n % PLANS]
        at = now - timedelta(days=30) * (1 - (n + 1) / runs)
        run = f"{at:%Y%m%d-%H%M%S}-{n:06x}"
        run_rows.append(dict(id=run, command="run" if n % 5 else "check",
                             plan_name=plan.stem, plan_path=str(plan), plan_hash=None,
                             status="failed" if failed else "passed", started_at=at,
                             finished_at=at + timedelta(minutes=2),
                             summary="failed at phase 1" if failed else "every phase passed",
                             meta=json.dumps({"inputs": {"n": n}})))
        step_rows.append(_step(len(step_rows) + 1, run, "R", "reality check", "passed", at,
                               records.StepPlace(), "4/4 passed"))
        for g in range(gates):
            broken = failed and g == gates - 1
            step_id = len(step_rows) + 1
            step_rows.append(_step(step_id, run, "I", f"phase {g + 1}: web · gate",
                                   "timed out" if broken else "passed", at,
                                   records.StepPlace(records.GATE, f"web-{g}", g + 1),
                                   "gate timed out after 60 s" if broken else ""))
            work.append((run, step_id, at, broken))
    with store.engine.begin() as connection:
        connection.execute(insert(tables.runs), run_rows)
        connection.execute(insert(tables.steps), step_rows)
    for run, step_id, at, broken in work:
        store.record_many(run, step_id, [_seen(at, i, broken) for i in range(PER_STEP)])
    _domains(store, now, plans)
    store.close()
    return {"runs": runs, "observations": len(work) * PER_STEP,
            "fill_s": round(time.monotonic() - started, 1), "last_run": run_rows[-1]["id"],
            "failed_run": run_rows[-7]["id"]}


def _step(step_id: int, run: str, stage: str, name: str, status: str, at: datetime,
          place: records.StepPlace, detail: str) -> dict[str, Any]:
    return dict(id=step_id, run_id=run, stage=stage, name=name, status=status,
                started_at=at, finished_at=at + timedelta(seconds=30),
                duration=30.0, timeout=60.0, detail=detail, kind=place.kind, phase=place.phase,
                phase_index=place.phase_index, tracer=None, journal=None, fingerprints=None)


def _seen(at: datetime, i: int, broken: bool) -> Observation:
    check, attempt = divmod(i, 5)
    passed = attempt == 4 and not broken
    return Observation("k8s.rollout", f"Deployment web-{check}", {"name": f"web-{check}"},
                       passed, "all replicas updated and available",
                       "3 of 3 updated" if passed else "1 of 3 replicas updated",
                       "", at, at + timedelta(seconds=1), attempt + 1)


def _domains(store: EvidenceStore, now: datetime, plans: list[Path]) -> None:
    """Twenty domains, each with a state change every 2 hours of the last day (and its
    probes'), and a test report of 200 cases."""
    states, probes = [], []
    for d in range(DOMAINS):
        name = f"domain-{d:02d}"
        for hour in range(24, 0, -2):
            state = "down" if (hour + d) % 7 == 0 else "healthy"
            at = now - timedelta(hours=hour, minutes=d)
            states.append(DomainState(name, state, state, None, int(state == "healthy"), 1,
                                      "", at))
            probes += [ProbeState(name, f"probe-{p}", "passing" if state == "healthy"
                                  else "failing", at, {"observed": "ok"}) for p in range(25)]
        cases = tuple(TestCase(f"test_{c}", "suite", "failed" if c == 7 else "passed", 0.01,
                               "boom" if c == 7 else "") for c in range(200))
        report = TestReport(name, f"{name}.xml", 200, 1, 0, 0, 2.0, cases)
        history.record_report(store, report, "<testsuite/>")
    history.record_changes(store, states, probes)


def domains_file(base: Path) -> Path:
    lines = ["apiVersion: phasegate/v1", "kind: Domains", "domains:"]
    for d in range(DOMAINS):
        lines += [f"  domain-{d:02d}:", "    owner: team", "    plans:",
                  f"      - plan-{2 * d:02d}.yaml", f"      - plan-{2 * d + 1:02d}.yaml",
                  "    health:"]
        lines += [f"      - file: {{path: /etc/hostname}}\n        name: probe-{p}"
                  for p in range(25)]
    path = base / "domains.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def serve(url: str, domains: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([PHASEGATE, "serve", "--port", "0", "--store", url,
                                "--domains", str(domains), "--tasks", str(domains.parent)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    found = re.search(r"at (http://\S+/) ", process.stdout.readline())
    if found is None:
        process.kill()
        raise SystemExit("phasegate serve did not start: " + process.communicate()[1])
    return process, found.group(1)


def pages(facts: dict[str, Any]) -> dict[str, str]:
    run, failed = facts["last_run"], facts["failed_run"]
    return {"overview": "domains", "domain": "domains/domain-03", "runs": "runs",
            "runs_failed": "runs?status=failed", "runs_plan": "runs?plan=plan-07&since=168h",
            "runs_page_20": "runs?page=20", "run": f"runs/{run}",
            "run_failed": f"runs/{failed}", "evidence": f"runs/{failed}/evidence",
            "retro": f"runs/{failed}/retro", "tasks": "tasks", "patterns": "patterns",
            "metrics": "metrics"}

SCRAPED = ("metrics",)  # asked by Prometheus, not painted by a browser


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[max(round(0.95 * len(ordered)) - 1, 0)], 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the serve process so far (a busy machine stretches wall
    time far more than the CPU a page costs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_side(base: str, paths: dict[str, str], requests: int,
                pid: int) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, list[float]]] = {k: {"server": [], "client": []} for k in paths}
    cpu = dict.fromkeys(paths, 0.0)
    with httpx.Client(base_url=base, timeout=300) as client:
        for path in paths.values():  # warm: templates compiled, caches filled
            client.get(path).raise_for_status()
        for _ in range(requests):
            for key, path in paths.items():
                used = cpu_seconds(pid)
                started = time.perf_counter()
                answer = client.get(path)
                found[key]["client"].append(1000 * (time.perf_counter() - started))
                cpu[key] += cpu_seconds(pid) - used
                answer.raise_for_status()
                timing = re.search(r"dur=([\d.]+)", answer.headers["server-timing"])
                assert timing is not None
                found[key]["server"].append(float(timing.group(1)))
    return {key: {"server_p95_ms": p95(v["server"]), "server_median_ms":
                  round(statistics.median(v["server"]), 1), "client_p95_ms": p95(v["client"]),
                  "cpu_mean_ms": round(1000 * cpu[key] / requests, 1)}
            for key, v in found.items()}


def paints(base: str, paths: dict[str, str], loads: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        return {}
    found: dict[str, list[float]] = {key: [] for key in paths}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        for key, path in paths.items():
            for _ in range(loads):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(base + path)
                fcp = page.evaluate("""() => new Promise(done => {
                    const seen = performance.getEntriesByName('first-contentful-paint');
                    if (seen.length) { done(seen[0].startTime); return; }
                    new PerformanceObserver(list => done(list.getEntries()[0].startTime))
                      .observe({type: 'paint', buffered: true}); })""")
                found[key].append(float(fcp))
                page.close()
        browser.close()
    return {key: p95(values) for key, values in found.items()}


def measure(label: str, runs: int, observations: int, work: Path,
            args: argparse.Namespace, reuse: Path | None = None) -> dict[str, Any]:
    base = reuse or work / label
    url = f"sqlite:///{base / 'e.db'}"
    if reuse is not None and (reuse / "facts.json").is_file():
        facts = json.loads((reuse / "facts.json").read_text())
    else:
        base.mkdir(exist_ok=True)
        facts = fill(url, runs, observations, base)
        (base / "facts.json").write_text(json.dumps(facts))
    print(f"{label}: {facts['runs']} runs, {facts['observations']} observations written in "
          f"{facts['fill_s']} s", file=sys.stderr)
    process, served = serve(url, domains_file(base))
    try:
        asked = pages(facts)
        timed = server_side(served, asked, args.requests, process.pid)
        painted = paints(served, {k: v for k, v in asked.items() if k not in SCRAPED},
                         args.loads)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    for key, value in painted.items():
        timed[key]["fcp_p95_ms"] = value
    return {"store": facts, "pages": timed, "patterns_mining_s": mining(url)}


def mining(url: str) -> float:
    """What the patterns page's background computation takes once (it serves the last
    answer, recomputed each minute)."""
    from phasegate.reports import clock
    from phasegate.web import views

    store = EvidenceStore(url, reader=True)
    started = time.monotonic()
    views.patterns(store, clock.now())
    store.close()
    return round(time.monotonic() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the big store in this directory, and "
                        "reuse the one kept there by an earlier run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phasegate-bench-dashboard-"))
    try:
        small = measure("small", max(args.runs // 100, 20), max(args.observations // 100, 500),
                        work, args)
        big = measure("big", args.runs, args.observations, work, args, args.keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for key, figures in big["pages"].items():
        print(f"{key:14} server p95 {figures['server_p95_ms']:7.1f} ms "
              f"(small store {small['pages'][key]['server_p95_ms']:6.1f} ms) · "
              f"CPU {figures['cpu_mean_ms']:6.1f} ms · "
              f"first paint p95 {figures.get('fcp_p95_ms', '—')} ms")
    worst = max(f["server_p95_ms"] for f in big["pages"].values())
    print(json.dumps({
        "big": big, "small": small, "goal_ms": GOAL_MS, "worst_server_p95_ms": worst,
        "met": worst <= GOAL_MS, "load_average": os.getloadavg()[0],
        "ratios": {key: round(f["server_p95_ms"] / max(small["pages"][key]["server_p95_ms"],
                                                       0.1), 2)
                   for key, f in big["pages"].items()},
        "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
