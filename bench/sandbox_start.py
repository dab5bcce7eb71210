"""Time from `sandbox.up()` to an Available Deployment, with cached binaries.

    uv run python bench/sandbox_start.py [--runs 3] [--drop-caches] [--no-registry]
                                         [--real-nodes 1] [--shop]

Each run starts a fresh sandbox (new certs, empty etcd, free ports), and `up` returns
only once a Deployment has become Available and its local registry holds the seed
images, so its duration is the figure asked for. The registry is seeded while the
control plane starts; ``registry_seeded_s`` is how long that took on its own, and a
``--no-registry`` run gives the figure to compare ``up`` with (there `up` waits for the
probe pod's image pull to be refused instead: no image can be pulled without a registry).
With a registry, a separate 3-replica Deployment is then timed to Available on the
running sandbox, and single pods, one after the other, from create to Ready
(``pod_ready_median_ms``: what a gate waiting on a pod pays for the scheduler, the image
pull verdict and KWOK).
``--drop-caches`` empties the kernel page cache first (root only), so the first run
also pays for reading the ~270 MB of binaries from disk: the "cold" figure.
``--real-nodes N`` adds real nodes (kubelet + containerd): `up` then also waits for a
Deployment with an HTTP readiness probe to be Ready on them, and pods on the real node are
timed from create to Ready too (``real_pod_ready_median_ms``: containerd, runc, the CNI
bridge and a real readiness probe). Every sandbox's containerd starts with an empty image
store, so each start pulls its images afresh; the first run after ``--drop-caches`` is the
"cold" figure (goal 30 s), the later ones the "warm" one (goal 15 s). ``--shop`` also times
the README demo's plan (examples/shop, on the real node) end to end on the first sandbox.
The last line printed is one JSON object with all figures (seconds).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from phasegate.sandbox import SandboxInfo, connect, down, up
from phasegate.sandbox.api import wait_for
from phasegate.sandbox.binaries import locate
from phasegate.sandbox.registry import seed_images


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def timed_up(
    name: str, registry: bool, real_nodes: int = 0
) -> tuple[SandboxInfo, float, dict[str, float], float]:
    marks: dict[str, float] = {}
    seeded = [0.0]
    start = time.monotonic()

    def mark(message: str) -> None:
        found = re.search(r"seeded in ([0-9.]+)s", message)
        if found:
            seeded[0] = float(found.group(1))
            message = "registry seeded"  # the message names the port, which varies
        elif message.startswith("starting docker-registry"):
            message = "starting docker-registry"
        elif message.startswith("starting containerd for real node"):
            message = "starting containerd"  # the message names the bridge, which varies
        marks.setdefault(message, round(time.monotonic() - start, 2))

    info = up(nodes=2, name=name, progress=mark, registry=registry, real_nodes=real_nodes)
    return info, time.monotonic() - start, marks, seeded[0]


def three_replicas(info: SandboxInfo, image: str) -> float:
    path = "/apis/apps/v1/namespaces/default/deployments"
    labels = {"app": "bench"}
    spec = {"containers": [{"name": "c", "image": image}]}
    start = time.monotonic()
    with connect(info) as api:
        api.create(
            path,
            {
                "metadata": {"name": "bench"},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": spec},
                },
            },
        )
        wait_for(
            "3 available",
            lambda: (
                ((api.get(f"{path}/bench") or {}).get("status") or {}).get("availableReplicas") == 3
            ),
            60,
            interval=0.05,
        )
    return time.monotonic() - start


REAL_NODE = {
    "nodeSelector": {"phasegate.dev/node": "real"},
    "tolerations": [{"key": "phasegate.dev/node", "operator": "Equal", "value": "real",
                     "effect": "NoSchedule"}],
    "terminationGracePeriodSeconds": 1,
}


def pod_ready_ms(info: SandboxInfo, image: str, count: int = 10, real: bool = False) -> list[float]:
    """Create->Ready of ``count`` pods in turn, each timed by polling it alone. On the
    real node the pod has an HTTP readiness probe (every second), as a real app would."""
    path = "/api/v1/namespaces/default/pods"
    took = []
    container: dict[str, Any] = {"name": "c", "image": image}
    if real:
        container["readinessProbe"] = {"httpGet": {"path": "/health", "port": 8080},
                                       "periodSeconds": 1}
    extra = REAL_NODE if real else {}
    with connect(info) as api:
        for n in range(count):
            name = f"bench-{'real-' if real else ''}pod-{n}"
            start = time.monotonic()
            api.create(path, {"metadata": {"name": name},
                              "spec": {"containers": [container], **extra}})
            wait_for(
                f"pod {name} Ready",
                lambda name=name: _ready(api.get(f"{path}/{name}")),
                30,
                interval=0.005,
            )
            took.append((time.monotonic() - start) * 1000)
            api.request("DELETE", f"{path}/{name}")
    return took


def _ready(pod: dict[str, Any] | None) -> bool:
    conditions = ((pod or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def shop_seconds(info: SandboxInfo, workdir: Path) -> float:
    """The README demo's plan, end to end on this sandbox (as scripts/demo runs it)."""
    root = Path(__file__).resolve().parents[1]
    argv = [str(root / ".venv" / "bin" / "phasegate"), "run", "examples/shop/plan.yaml",
            "--input", "@examples/shop/values.yaml", "--input", "namespace=shop-bench",
            "--input", f"registry={info.registry}", "--kubeconfig", str(info.kubeconfig),
            "--yes", "--store", str(workdir / "e.db"), "--reports", str(workdir / "reports")]
    start = time.monotonic()
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True)
    took = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"the shop failed ({done.returncode}):\n{done.stdout[-2000:]}")
    return took


def bench_image(info: SandboxInfo) -> str:
    """An image the sandbox can pull: its registry's first seed image."""
    return f"{info.registry}/{seed_images()[0]}"


def _median(values: list[float], digits: int) -> float | None:
    return round(statistics.median(values), digits) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true")
    parser.add_argument("--no-registry", dest="registry", action="store_false")
    parser.add_argument("--real-nodes", type=int, default=0)
    parser.add_argument("--shop", action="store_true")
    args = parser.parse_args()
    locate(build=False)  # cached binaries only: this measures start-up, not the build
    dropped = drop_caches() if args.drop_caches else False
    starts, deploys, stops, phases, seeds = [], [], [], [], []
    pods: list[float] = []
    real_pods: list[float] = []
    shop: float | None = None
    for i in range(args.runs):
        info, seconds, marks, seeded = timed_up(f"bench-{i}", args.registry, args.real_nodes)
        try:
            if info.registry:  # without one no image can be pulled, so no pod runs
                deploys.append(three_replicas(info, bench_image(info)))
                pods.extend(pod_ready_ms(info, bench_image(info)))
            if args.real_nodes:
                real_pods.extend(pod_ready_ms(info, bench_image(info), 5, real=True))
            if args.shop and shop is None:
                with tempfile.TemporaryDirectory() as workdir:
                    shop = shop_seconds(info, Path(workdir))
        finally:
            t = time.monotonic()
            down(info)
            stops.append(time.monotonic() - t)
        starts.append(seconds)
        phases.append(marks)
        seeds.append(seeded)
        print(
            f"run {i}: up->Available {seconds:.2f}s, "
            f"3 replicas {deploys[-1] if deploys else 0:.2f}s, "
            f"down {stops[-1]:.2f}s, registry seeded in {seeded:.2f}s, phases {marks}",
            flush=True,
        )
    warm = starts[1:] or starts
    print(
        json.dumps(
            {
                "runs": args.runs,
                "page_cache_dropped": dropped,
                "registry": args.registry,
                "real_nodes": args.real_nodes,
                "registry_seeded_median_s": round(statistics.median(seeds), 2),
                "first_start_s": round(starts[0], 2),
                "warm_start_median_s": round(statistics.median(warm), 2),
                "warm_start_max_s": round(max(warm), 2),
                "three_replica_available_median_s": _median(deploys, 2),
                "down_median_s": round(statistics.median(stops), 2),
                "pod_ready_median_ms": _median(pods, 1),
                "pod_ready_max_ms": round(max(pods), 1) if pods else None,
                "real_pod_ready_median_ms": _median(real_pods, 1),
                "shop_end_to_end_s": round(shop, 2) if shop is not None else None,
                "goal_s": 15,
                "goal_cold_s": 30 if args.real_nodes else None,
                "phases_first_run": phases[0],
            }
        )
    )


if __name__ == "__main__":
    main()
