"""500 image references (450 present, 50 missing) against a local TLS registry with Basic
auth: phasegate vs serial ``skopeo inspect --no-tags`` vs ``crane digest`` with 4 parallel
jobs, in the same run, with the same credentials (a Docker config.json) and the same CA.

Goal: ≥ 20x faster than serial skopeo, ≥ 3x faster than crane, identical found/missing
verdicts. The last line is one JSON object. Not run in CI; takes about a minute.

    uv run python bench/images.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures import oci_layout, pki  # noqa: E402
from tests.fixtures import registry as fixtures  # noqa: E402

CRANE_VERSION = "v0.20.2"
CRANE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "phasegate-bench"
REPOSITORIES = 10
TAGS_PER_REPOSITORY = 45  # 450 present
MISSING_TAGS = 45
MISSING_REPOSITORIES = 5  # 50 missing
CRANE_JOBS = 4
PHASEGATE = str(Path(sys.executable).parent / "phasegate")


def main() -> None:
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} missing: run scripts/ensure-test-tools")
    with tempfile.TemporaryDirectory(prefix="phasegate-bench-") as tmp:
        work = Path(tmp)
        registry = start(work)
        try:
            present, missing = populate(registry, work)
            run(registry, work, present, missing)
        finally:
            registry.stop()


def start(work: Path) -> fixtures.Registry:
    ca = pki.authority(work / "pki")
    server = ca.issue(work / "pki", "server", ["127.0.0.1", "localhost"])
    password = base64.urlsafe_b64encode(os.urandom(12)).decode()
    fixtures.htpasswd(work / "htpasswd", {"bench": password})
    auth = {"htpasswd": {"realm": "bench", "path": str(work / "htpasswd")}}
    registry = fixtures.start_registry(work, "bench", ca.pem, server, work / "storage", auth)
    registry.username, registry.password = "bench", password
    registry.certs_dir = work / "certs.d"
    registry.certs_dir.mkdir()
    shutil.copy(ca.pem, registry.certs_dir / "ca.crt")
    docker = work / "docker"
    docker.mkdir()
    token = base64.b64encode(f"bench:{password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return registry


def populate(registry: fixtures.Registry, work: Path) -> tuple[list[str], list[str]]:
    """One skopeo push per repository, then the other tags by manifest PUT (seconds, not
    minutes); every tag is a real manifest the registry serves."""
    present: list[str] = []
    with httpx.Client(verify=str(registry.ca), auth=(registry.username, registry.password)) as c:
        for n in range(REPOSITORIES):
            built = oci_layout.build(work / f"layout{n}", "v0", ["linux/amd64"], content=f"r{n}")
            repository = f"bench/app{n}"
            fixtures.push(registry, built, repository, "v0")
            manifest = (built.layout / "blobs" / "sha256" / built.digest.split(":")[1]).read_bytes()
            for t in range(1, TAGS_PER_REPOSITORY):
                response = c.put(
                    f"https://{registry.host}/v2/{repository}/manifests/v{t}", content=manifest,
                    headers={"Content-Type": oci_layout.OCI_MANIFEST},
                )
                response.raise_for_status()
            present += [f"{registry.host}/{repository}:v{t}" for t in range(TAGS_PER_REPOSITORY)]
    missing = [f"{registry.host}/bench/app{n % REPOSITORIES}:absent{n}"
               for n in range(MISSING_TAGS)]
    missing += [f"{registry.host}/bench/none{n}:v0" for n in range(MISSING_REPOSITORIES)]
    return present, missing


def run(registry: fixtures.Registry, work: Path, present: list[str], missing: list[str]) -> None:
    refs = present + missing
    env = {**os.environ, "DOCKER_CONFIG": str(work / "docker"), "SSL_CERT_FILE": str(registry.ca)}
    truth = set(present)
    results: dict[str, object] = {"bench": "images", "refs": len(refs), "present": len(present),
                                  "missing": len(missing)}

    cold, warm = phasegate_in_process(refs, registry, work)
    cli_time, cli_found = phasegate_cli(refs, work, env)
    results["phasegate"] = {
        "cold_s": round(cold["wall"], 3), "warm_s": round(warm["wall"], 3),
        "check_cli_s": round(cli_time, 3),
        "round_trips_cold": cold["round_trips"], "round_trips_warm": warm["round_trips"],
        "http_version": cold["http_version"], "verdicts_match": cold["found"] == truth
        and warm["found"] == truth and cli_found == truth,
    }
    print(f"phasegate (in process)  cold {cold['wall']:6.2f} s   "
          f"warm {warm['wall']:6.2f} s (best of 3)")
    print(f"phasegate check (CLI)        {cli_time:6.2f} s   (process start, plan, store)")
    print(f"round trips per image   cold {cold['round_trips']}   warm {warm['round_trips']}")

    skopeo_time, skopeo_found = skopeo_serial(refs, registry, work)
    print(f"skopeo inspect, serial       {skopeo_time:6.2f} s")
    results["skopeo_serial_s"] = round(skopeo_time, 3)
    results["skopeo_verdicts_match"] = skopeo_found == truth

    crane = crane_binary()
    if isinstance(crane, str):
        results["crane"] = {"unavailable": crane}
        print(f"crane: unavailable ({crane})")
    else:
        crane_time, crane_found = crane_parallel(refs, crane, env)
        print(f"crane digest, {CRANE_JOBS} jobs         {crane_time:6.2f} s")
        results["crane_4_jobs_s"] = round(crane_time, 3)
        results["crane_verdicts_match"] = crane_found == truth
        results["crane_version"] = CRANE_VERSION
        results["ratio_vs_crane_cold"] = round(crane_time / cold["wall"], 1)
        results["ratio_vs_crane_cli"] = round(crane_time / cli_time, 1)
    results["ratio_vs_skopeo_cold"] = round(skopeo_time / cold["wall"], 1)
    results["ratio_vs_skopeo_cli"] = round(skopeo_time / cli_time, 1)
    print(f"vs skopeo: {results['ratio_vs_skopeo_cold']}x (in process), "
          f"{results['ratio_vs_skopeo_cli']}x (CLI)")
    if "ratio_vs_crane_cold" in results:
        print(f"vs crane:  {results['ratio_vs_crane_cold']}x (in process), "
              f"{results['ratio_vs_crane_cli']}x (CLI)")
    results["goal_20x_skopeo_met"] = float(str(results["ratio_vs_skopeo_cold"])) >= 20
    if "ratio_vs_crane_cold" in results:
        results["goal_3x_crane_met"] = float(str(results["ratio_vs_crane_cold"])) >= 3
    print(json.dumps(results))


def phasegate_in_process(
    refs: list[str], registry: fixtures.Registry, work: Path
) -> tuple[dict[str, object], dict[str, object]]:
    from phasegate.engine import gate
    from phasegate.plan import probe_call
    from phasegate.probes.base import ProbeContext
    from phasegate.probes.oci import tokens

    os.environ["DOCKER_CONFIG"] = str(work / "docker")
    calls = [probe_call.build({"image": {"ref": ref, "ca": str(registry.ca)}, "name": ref})
             for ref in refs]
    tokens.forget_all()

    def once() -> dict[str, object]:
        started = time.perf_counter()
        result = asyncio.run(gate.evaluate(calls, ProbeContext()))
        wall = time.perf_counter() - started
        trips = {"found": [o.data["round_trips"] for o in result.finals if o.passed],
                 "missing": [o.data["round_trips"] for o in result.finals if not o.passed]}
        return {
            "wall": wall,
            "found": {o.name for o in result.finals if o.passed},
            "http_version": sorted({str(o.data.get("http_version")) for o in result.finals}),
            "round_trips": {kind: {"mean": round(statistics.mean(v), 2), "max": max(v)}
                            for kind, v in trips.items() if v},
        }

    cold = once()
    # later runs start new event loops (new connections): only tokens and challenges are warm
    warm = min((once() for _ in range(3)), key=lambda run: float(str(run["wall"])))
    return cold, warm


def phasegate_cli(refs: list[str], work: Path, env: dict[str, str]) -> tuple[float, set[str]]:
    plan = work / "plan.yaml"
    plan.write_text(json.dumps({"apiVersion": "phasegate/v1", "kind": "Plan",
                                "metadata": {"name": "bench"}, "assumptions": {"images": refs}}))
    store = work / "evidence.db"
    started = time.perf_counter()
    subprocess.run([PHASEGATE, "check", str(plan), "--store", str(store)], env=env,
                   capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    listed = subprocess.run([PHASEGATE, "runs", "--json", "--store", str(store)], env=env,
                            capture_output=True, text=True, check=True)
    run_id = json.loads(listed.stdout)[0]["id"]
    out = work / "evidence.json"
    subprocess.run([PHASEGATE, "evidence", run_id, "--format", "json", "-o", str(out),
                    "--store", str(store)], env=env, capture_output=True, check=True)
    checks = json.loads(out.read_text())["steps"][0]["checks"]
    found = {c["name"].removeprefix("image ") for c in checks if c["passed"]}
    return elapsed, found


def skopeo_serial(refs: list[str], registry: fixtures.Registry, work: Path
                  ) -> tuple[float, set[str]]:
    found: set[str] = set()
    started = time.perf_counter()
    for ref in refs:
        done = subprocess.run(
            ["skopeo", "inspect", "--no-tags", "--cert-dir", str(registry.certs_dir),
             "--authfile", str(work / "docker" / "config.json"), f"docker://{ref}"],
            capture_output=True, check=False,
        )
        if done.returncode == 0:
            found.add(ref)
    return time.perf_counter() - started, found


def crane_binary() -> Path | str:
    """crane, built once from the Go module proxy into a cache outside the repository."""
    binary = CRANE_CACHE / "bin" / "crane"
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        return "go not installed"
    done = subprocess.run(
        ["go", "install", f"github.com/google/go-containerregistry/cmd/crane@{CRANE_VERSION}"],
        env={**os.environ, "GOBIN": str(binary.parent), "GOFLAGS": "-mod=mod"},
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0 or not binary.exists():
        return f"go install failed: {done.stderr.strip()[-300:]}"
    return binary


def crane_parallel(refs: list[str], crane: Path, env: dict[str, str]) -> tuple[float, set[str]]:
    def digest(ref: str) -> str | None:
        done = subprocess.run([str(crane), "digest", ref], env=env, capture_output=True,
                              check=False)
        return ref if done.returncode == 0 else None

    started = time.perf_counter()
    with ThreadPoolExecutor(CRANE_JOBS) as pool:
        found = {ref for ref in pool.map(digest, refs) if ref}
    return time.perf_counter() - started, found


if __name__ == "__main__":
    main()
