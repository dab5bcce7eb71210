"""What asking a probe through the MCP server costs, against asking it in process and
through `phasegate probe`, measured in the same run.

The same probe (tcp to a local listening socket, recorded in one evidence store) is asked:
- in process: the function `phasegate probe` and the MCP tool call (`workflow.adhoc`: parse,
  ask, record), in a warm event loop: the probe's own time;
- by the CLI: `phasegate probe … --json`, a process per question (start-up included);
- through `phasegate mcp` over stdio, from the official SDK's client, in a warm session (the
  server started and the probe asked once before timing), each sample right after one of
  the function's, so that both meet the same load.

Goal: the MCP round trip ≤ 1.1 times the probe's own time + 5 ms. Medians; the last line is one
JSON object. `--runs N` sets the samples per way (default 30; the CLI takes a third).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PHASEGATE = str(Path(sys.executable).parent / "phasegate")


def listening() -> socket.socket:
    """A local port that accepts (and closes) every connection: an unaccepted backlog would
    fill up and make the later probes time out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed: the bench is over
                return
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    return server


async def function_and_mcp(probe: dict[str, Any], store_url: str,
                           runs: int) -> tuple[list[float], list[float], float]:
    """Paired samples, one of each in turn, so both ways meet the same load."""
    from mcp import Client, StdioServerParameters

    from phasegate.store.evidence import EvidenceStore
    from phasegate.workflow import adhoc

    async def function() -> float:
        started = time.perf_counter()
        result = await adhoc.probe(adhoc.parse(json.dumps(probe)), store)
        elapsed = time.perf_counter() - started
        assert result.gate.passed, result.gate.finals
        return elapsed

    async def through_mcp() -> float:
        started = time.perf_counter()
        result = await client.call_tool("probe", {"probe": probe})
        elapsed = time.perf_counter() - started
        assert not result.is_error and result.structured_content, result
        assert result.structured_content["passed"], result.structured_content
        return elapsed

    store = EvidenceStore(store_url)
    parameters = StdioServerParameters(command=PHASEGATE, args=["mcp", "--store", store_url])
    own: list[float] = []
    mcp: list[float] = []
    try:
        started = time.perf_counter()
        async with Client(parameters) as client:
            await through_mcp()  # warm: the server's imports, its store, the session
            ready = time.perf_counter() - started
            await function()  # warm: imports, the store's connection
            for _ in range(runs):
                own.append(await function())
                mcp.append(await through_mcp())
    finally:
        store.close()
    return own, mcp, ready


def by_cli(probe: dict[str, Any], store_url: str, runs: int) -> list[float]:
    samples = []
    warm = 1 if runs > 1 else 0  # the smallest size (a smoke test) spares the process
    for index in range(runs + warm):
        started = time.perf_counter()
        done = subprocess.run([PHASEGATE, "probe", json.dumps(probe), "--json", "--store",
                               store_url], capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        assert done.returncode == 0, done.stdout + done.stderr
        if index >= warm:  # a first one warms the file cache
            samples.append(elapsed)
    return samples


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    server = listening()
    probe = {"tcp": {"host": "127.0.0.1", "port": server.getsockname()[1]}}
    with tempfile.TemporaryDirectory(prefix="phasegate-bench-mcp-") as tmp:
        store_url = str(Path(tmp) / "evidence.db")
        function, mcp_calls, mcp_ready = asyncio.run(function_and_mcp(probe, store_url, runs))
        cli = by_cli(probe, store_url, max(1, runs // 3))
    server.close()
    own, round_trip, cli_ms = ms(function), ms(mcp_calls), ms(cli)
    goal = round(1.1 * own + 5, 2)
    print(f"probe in process (function): {own:8.2f} ms (median of {len(function)})")
    print(f"probe through MCP (stdio):   {round_trip:8.2f} ms (warm session, median of "
          f"{len(mcp_calls)}); goal ≤ {goal:.2f} ms")
    print(f"phasegate probe (CLI):       {cli_ms:8.2f} ms (a process each, median of "
          f"{len(cli)})")
    print(f"MCP server start to first answer: {mcp_ready * 1000:.0f} ms")
    print(json.dumps({
        "bench": "mcp_overhead",
        "runs": runs,
        "probe": "tcp",
        "function_ms": own,
        "mcp_stdio_ms": round_trip,
        "cli_ms": cli_ms,
        "mcp_start_ms": round(mcp_ready * 1000, 1),
        "mcp_overhead_ms": round(round_trip - own, 2),
        "mcp_vs_function_ratio": round(round_trip / own, 2),
        "cli_vs_function_ratio": round(cli_ms / own, 2),
        "goal_ms": goal,
        "within_goal": round_trip <= goal,
        # 2 cores shared: a loaded machine delays each hop between client and server process
        "load_average_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
