"""``phasegate health`` on 500 probes over 20 domains, and the CPU of a ``--watch`` loop.

Each domain has 25 probes against real local systems: 15 ``http`` (a threaded HTTP server
in its own process, so its CPU is not phasegate's), 5 ``tcp`` and 5 ``file``. Measured in
the same run:

- ``once``: ``phasegate health --json`` as its own process, start to exit (wall, CPU, peak
  RSS), and the evaluation alone (``duration`` in its JSON: every probe asked, rolled up,
  changes recorded); then the evaluation in this process (``domains.health.evaluate_once``),
  wall and CPU seconds: CPU is what a busy machine inflates least. Baseline: ``phasegate
  check`` of a plan whose assumptions are the same 500 probes (the gate machinery, without
  domains). Goal: 500 probes evaluated in <= 2 s.
- ``watch``: ``phasegate health --watch`` with every probe at a 10 s interval, its CPU
  (user + system from /proc) over windows after its first evaluation, as a share of one
  core (the median window, and each). Goal: <= 10 %.

The last line is one JSON object with the figures, ratios and goals.

Usage: python bench/health.py [--rounds 3] [--domains 20] [--probes 25] [--window 30]
       [--windows 3]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import processes

PHASEGATE = str(Path(sys.executable).parent / "phasegate")
GOAL_S = 2.0
GOAL_CORE = 0.10
INTERVAL = "10s"
INTERVAL_S = 10.0
SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
ThreadingHTTPServer.request_queue_size = 1024
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def probes(port: int, work: Path, domain: int, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for n in range(count):
        kind = n % 5
        if kind in (0, 1, 2):
            found.append({"http": {"url": f"http://127.0.0.1:{port}/d{domain}/p{n}"}})
        elif kind == 3:
            found.append({"tcp": {"host": "127.0.0.1", "port": port},
                          "name": f"tcp d{domain} p{n}"})
        else:
            marker = work / f"d{domain}-p{n}.txt"
            marker.write_text("ready\n")
            found.append({"file": {"path": str(marker)}})
    return found


def write_files(work: Path, port: int, domains: int, count: int) -> tuple[Path, Path]:
    listing: dict[str, Any] = {}
    every: list[dict[str, Any]] = []
    for d in range(domains):
        mine = probes(port, work, d, count)
        every.extend(mine)
        listing[f"domain-{d:02}"] = {
            "owner": f"team-{d % 5}", "health": mine, "interval": INTERVAL,
            **({"depends_on": [f"domain-{d - 1:02}"]} if d % 4 else {})}
    path = work / "domains.yaml"
    path.write_text(json.dumps({"apiVersion": "phasegate/v1", "kind": "Domains",
                                "domains": listing}))
    plan = work / "plan.yaml"
    plan.write_text(json.dumps({"apiVersion": "phasegate/v1", "kind": "Plan",
                                "metadata": {"name": "health-baseline"},
                                "assumptions": {"probes": every}}))
    return path, plan


def once(work: Path, domains_file: Path, plan: Path, log: Path, round_: int
         ) -> dict[str, float]:
    store = str(work / f"evidence-{round_}.db")
    out = work / "health.json"
    with out.open("wb") as sink:
        start = time.monotonic()
        process = subprocess.Popen([PHASEGATE, "health", "--json", "--domains",
                                    str(domains_file), "--store", store], stdout=sink,
                                   stderr=log.open("ab"))
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    document = json.loads(out.read_text()) if out.stat().st_size else {}
    if code != 0:
        failing = [f"{p['name']}: {p['observation']['observed']}"
                   for d in document.get("domains", []) for p in d["probes"]
                   if p["state"] != "passing"]
        raise SystemExit(f"phasegate health exited {code}: {len(failing)} probes not "
                         f"passing, e.g. {failing[:5]}")
    check = processes.measured([PHASEGATE, "check", str(plan), "--store", store], log)
    inside = in_process(domains_file, store)
    return {"health_s": wall, "health_cpu_s": usage.ru_utime + usage.ru_stime,
            "health_rss_mb": usage.ru_maxrss / 1024, "evaluation_s": document["duration"],
            **inside, "check_s": check["s"], "check_cpu_s": check["cpu_s"]}


def in_process(domains_file: Path, store_url: str) -> dict[str, float]:
    import asyncio

    from phasegate.domains import health, loader
    from phasegate.store.evidence import EvidenceStore

    domains = loader.load_domains(domains_file)
    store = EvidenceStore(store_url)
    try:
        cpu, start = time.process_time(), time.monotonic()
        evaluated = asyncio.run(health.evaluate_once(domains, None, store))
        wall, used = time.monotonic() - start, time.process_time() - cpu
    finally:
        store.close()
    assert evaluated.healthy(None)
    return {"inprocess_s": wall, "inprocess_cpu_s": used}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def watch(work: Path, domains_file: Path, window: float, windows: int) -> dict[str, Any]:
    """The --watch process's share of a core over ``windows`` windows in a row, each
    ``window`` seconds: the median, and every window's (one window alone varies by about
    7 % from one run to the next)."""
    process = subprocess.Popen([PHASEGATE, "health", "--watch", "--json", "--domains",
                                str(domains_file), "--store", str(work / "watch.db")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        first = json.loads(process.stdout.readline()) if ready else {}
        if first.get("event") != "evaluated":
            raise SystemExit(f"no first evaluation from --watch: {first}")
        # past the first evaluation's recording and the first interval after it: only then
        # is every probe on its own beat (a window from 5 s after it held 5 quiet seconds)
        time.sleep(INTERVAL_S + 5)
        shares, used, wall = [], 0.0, 0.0
        for _ in range(windows):
            cpu, start = cpu_seconds(process.pid), time.monotonic()
            time.sleep(window)
            spent, took = cpu_seconds(process.pid) - cpu, time.monotonic() - start
            shares.append(round(spent / took, 4))
            used, wall = used + spent, wall + took
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"watch_cpu_s": used, "watch_window_s": wall,
            "watch_core": statistics.median(shares), "watch_core_windows": shares}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--probes", type=int, default=25, help="per domain")
    parser.add_argument("--window", type=float, default=30.0,
                        help="seconds of one --watch window")
    parser.add_argument("--windows", type=int, default=3, help="--watch windows in a row")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="phasegate-bench-health-") as folder:
            work = Path(folder)
            log = work / "commands.log"
            domains_file, plan = write_files(work, port, args.domains, args.probes)
            rounds = [once(work, domains_file, plan, log, n) for n in range(args.rounds)]
            for n, figures in enumerate(rounds):
                print(f"round {n + 1}: " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                     figures.items()), flush=True)
            watched = watch(work, domains_file, args.window, args.windows)
            print(f"watch: {watched['watch_cpu_s']:.2f} CPU s in "
                  f"{watched['watch_window_s']:.1f} s; windows "
                  f"{watched['watch_core_windows']}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    medians = {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
    total = args.domains * args.probes
    print(json.dumps({
        "probes": total, "domains": args.domains, "rounds": args.rounds,
        **medians, **{k: round(v, 4) if isinstance(v, float) else v
                      for k, v in watched.items()},
        "load_average": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
        "ratios": {"evaluation_vs_goal": round(medians["evaluation_s"] / GOAL_S, 3),
                   "inprocess_cpu_vs_goal": round(medians["inprocess_cpu_s"] / GOAL_S, 3),
                   "health_vs_check": round(medians["health_s"] / medians["check_s"], 3),
                   "watch_core_vs_goal": round(watched["watch_core"] / GOAL_CORE, 3)},
        "goals": {"evaluation_s": GOAL_S, "watch_core": GOAL_CORE},
    }))


if __name__ == "__main__":
    main()
