"""up / down / status: start the control plane, stop it by PID, say what runs."""

from __future__ import annotations

import functools
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from phasegate.sandbox import (
    binaries,
    bootstrap,
    busybox_images,
    components,
    kubeconfig,
    real_node,
    state,
)
from phasegate.sandbox import registry as local_registry
from phasegate.sandbox.api import Api, wait_for
from phasegate.sandbox.client import PKI_DIR
from phasegate.sandbox.errors import SandboxError
from phasegate.sandbox.paths import DEFAULT_NAME, instance_dir
from phasegate.sandbox.pki import Identity, generate, issue_serving
from phasegate.sandbox.ports import free_ports
from phasegate.sandbox.processes import Proc, alive, spawn, stop, tail
from phasegate.sandbox.state import SandboxInfo

Progress = Callable[[str], None]

# Client identities: the CN is the user name, O the groups (see pki.py). The
# controller-manager and scheduler names are the ones the bootstrap RBAC roles bind.
IDENTITIES = {
    "admin": Identity("phasegate-admin", ("system:masters",)),
    "controller-manager": Identity("system:kube-controller-manager"),
    "scheduler": Identity("system:kube-scheduler"),
    "kwok": Identity("phasegate-kwok", ("system:masters",)),
    "image-puller": Identity("phasegate-image-puller", ("system:masters",)),
    "restricted": Identity(kubeconfig.RESTRICTED_USER),
    # The API server's identity towards real kubelets (logs, exec, port-forward).
    "kubelet-client": Identity("phasegate-apiserver-kubelet-client"),
}


@dataclass(frozen=True)
class SandboxStatus:
    info: SandboxInfo
    running: dict[str, bool]  # component -> its process is alive
    api_ready: bool

    @property
    def healthy(self) -> bool:
        return self.api_ready and all(self.running.values())


def up(
    nodes: int = 2,
    workdir: Path | None = None,
    *,
    name: str = DEFAULT_NAME,
    timeout: float = 120.0,
    progress: Progress | None = None,
    registry: bool = True,
    real_nodes: int = 0,
) -> SandboxInfo:
    """Start a sandbox (or return the one already running under ``name``).

    Returns once its local TLS registry holds the seed images (see registry.py) and a
    Deployment of one of them has become Available; without ``registry`` every image is
    unreachable, and it returns once a Deployment's pod has been refused its image. On
    any failure, or Ctrl-C, everything started so far is stopped and removed before the
    error propagates.

    ``real_nodes`` adds that many real nodes (a kubelet with containerd each, see
    real_node.py) beside the fake ones; they need the registry, and the start then also
    waits for a Deployment on them to become Available for real.
    """
    say = progress or (lambda _msg: None)
    existing = state.load(name)
    if existing is not None:
        if all(alive(p) for p in existing.procs):
            return existing
        down(existing)  # left over from a crash: clear it before starting afresh
    # Checked before the binaries, whose first build takes minutes.
    seed = (local_registry.tools(), local_registry.seed_images()) if registry else None
    kubelet = None
    if real_nodes:
        if not registry:
            raise SandboxError(
                "Real nodes (--real-nodes) pull their images from the sandbox's registry; "
                "drop --no-registry."
            )
        real_node.require()
        busybox_images.require()
        kubelet = binaries.kubelet()
    bin_dir = binaries.locate()
    stage_files = binaries.stage_files()
    state_dir = instance_dir(name)
    shutil.rmtree(state_dir, ignore_errors=True)
    (state_dir / "logs").mkdir(parents=True)
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"phasegate-sandbox-{name}-", dir=workdir))
    info = SandboxInfo(
        name=name,
        kubeconfig=state_dir / "kubeconfig",
        api_url="",
        state_dir=state_dir,
        work_dir=work,
        procs=(),
        nodes=nodes,
    )
    state.save(info)  # from here on, `down` in another process can clean up
    try:
        with local_registry.Seeding() as seeding:
            return _start(
                info, bin_dir, stage_files, timeout, say, seed, seeding, (real_nodes, kubelet)
            )
    except BaseException as exc:
        current = state.load(name) or info
        down(current, keep_logs=True)
        if isinstance(exc, SandboxError | KeyboardInterrupt | SystemExit):
            raise
        raise SandboxError(f"The sandbox could not start: {exc}") from exc


Seed = tuple[local_registry.Tools, list[str]]


def _start(
    info: SandboxInfo,
    bin_dir: Path,
    stage_files: list[Path],
    timeout: float,
    say: Progress,
    seed: Seed | None,
    seeding: local_registry.Seeding,
    real: tuple[int, Path | None],
) -> SandboxInfo:
    started = time.monotonic()
    real_count, kubelet_bin = real
    names = [real_node.node_name(i) for i in range(real_count)]
    node_ids = {f"node-{n}": Identity(f"system:node:{n}", ("system:nodes",)) for n in names}
    pki = generate(info.work_dir / PKI_DIR, IDENTITIES | node_ids)
    etcd_port, peer_port, api_port, registry_port = free_ports(4)
    lay = components.Layout(bin_dir, info.work_dir, pki, etcd_port, peer_port, api_port)
    lay.audit_policy.write_text(components.AUDIT_POLICY)
    for who in ("controller-manager", "scheduler", "kwok"):
        kubeconfig.write_component(lay.kubeconfig(who), lay.api_url, pki.ca.cert, pki.clients[who])
    kubeconfig.write_user(
        info.kubeconfig, lay.api_url, pki.ca.cert, pki.clients["admin"], pki.clients["restricted"]
    )
    info = replace(info, api_url=lay.api_url)
    procs: list[Proc] = []

    def launch(name: str, argv: list[str]) -> None:
        nonlocal info
        procs.append(spawn(name, argv, info.state_dir / "logs" / f"{name}.log"))
        info = replace(info, procs=tuple(procs))
        state.save(info)

    def step(what: str, check: Callable[[], bool], suspects: tuple[str, ...]) -> None:
        remaining = max(1.0, timeout - (time.monotonic() - started))
        try:
            wait_for(what, lambda: _all_alive(procs) and check(), remaining)
        except TimeoutError as exc:
            raise _failure(str(exc), procs, suspects) from None

    if seed is not None:
        found, images = seed
        reg = local_registry.prepare(info.work_dir, info.work_dir / PKI_DIR, registry_port, found)
        info = replace(info, registry=reg.host, registry_ca=reg.ca)
        say(f"starting docker-registry on {reg.host}, pushing {len(images)} images")
        launch("docker-registry", reg.argv)  # saves the state: `down` now removes certs.d
        local_registry.trust(reg.host, reg.ca)
        registry_procs = procs[-1:]
        seeding.start(reg, found, images, timeout, lambda: _all_alive(registry_procs))

    layouts = []
    for node in names:
        reg_host, reg_ca = info.registry, info.registry_ca
        assert reg_host is not None and reg_ca is not None  # up() demands the registry
        node_lay = real_node.claim_bridge(info.work_dir / "nodes" / node, node)
        info = replace(info, real_nodes={**info.real_nodes, node: node_lay.bridge})
        state.save(info)  # `down` now removes the bridge
        serving = issue_serving(
            info.work_dir / PKI_DIR, f"kubelet-{node}", (node,), (node_lay.address,)
        )
        real_node.write_files(
            node_lay, reg_host, reg_ca, pki.ca.cert, (serving.cert, serving.key)
        )
        kubeconfig.write_component(
            node_lay.kubeconfig, lay.api_url, pki.ca.cert, pki.clients[f"node-{node}"]
        )
        say(f"starting containerd for real node {node} ({node_lay.address}, {node_lay.bridge})")
        launch(f"{node}-namespace", real_node.holder(node_lay))
        holder_pid = procs[-1].pid
        step(f"{node}'s mount namespace", functools.partial(real_node.namespace_ready, node_lay),
             (f"{node}-namespace",))
        real_node.record_namespace(node_lay, holder_pid)
        launch(f"{node}-containerd", real_node.inside(holder_pid, real_node.containerd(node_lay)))
        layouts.append((node_lay, holder_pid))

    say("starting etcd")
    launch("etcd", components.etcd(lay))
    with httpx.Client(timeout=2.0) as plain:
        step(
            "etcd answering /health",
            lambda: plain.get(f"http://127.0.0.1:{etcd_port}/health").status_code == 200,
            ("etcd",),
        )
    # The scheduler, kwok and the puller retry until the API server answers, so starting
    # them now overlaps their start-up with the API server's. The controller-manager does
    # not: it gives up (exits) when /healthz stays forbidden for it while the API server is
    # still bootstrapping its RBAC roles, which a loaded machine makes last; so it starts
    # once /readyz (which includes that bootstrap) answers.
    say("starting kube-apiserver, kube-scheduler, kwok, image-puller")
    launch("kube-apiserver", components.apiserver(lay))
    launch("kube-scheduler", components.scheduler(lay))
    launch("kwok", components.kwok(lay, stage_files))
    launch("image-puller", components.image_puller(lay, info.registry, info.registry_ca))
    for node_lay, holder_pid in layouts:
        assert kubelet_bin is not None
        # The kubelet waits for containerd's socket and the API server by itself.
        launch(f"{node_lay.name}-kubelet",
               real_node.inside(holder_pid, real_node.kubelet(node_lay, kubelet_bin)))
    with Api(lay.api_url, pki.ca.cert, pki.clients["admin"]) as api:
        step(
            "kube-apiserver answering /readyz",
            lambda: api.request("GET", "/readyz").status_code == 200,
            ("kube-apiserver", "etcd"),
        )
        say("starting kube-controller-manager")
        launch("kube-controller-manager", components.controller_manager(lay))
        say(f"creating {info.nodes} fake nodes and the restricted user's namespace")
        bootstrap.create_nodes(api, info.nodes)
        bootstrap.create_restricted_access(api)
        every = info.nodes + real_count
        kubelets = tuple(f"{n}-{c}" for n in names for c in ("kubelet", "containerd"))
        step(
            f"{every} nodes becoming Ready",
            lambda: bootstrap.nodes_ready(api, every),
            ("kwok", "kube-apiserver", *kubelets),
        )
        # The probe pod's image must be in the registry before the pod is bound: its
        # pull is decided once. Seeding is usually done long before the nodes are.
        try:
            took = seeding.result()
        except TimeoutError as exc:
            raise _failure(str(exc), procs, ("docker-registry",)) from None
        if seed is not None and took is not None:
            say(f"registry {info.registry} holds {len(seed[1])} images (seeded in {took:.1f}s)")
        image = f"{info.registry}/{seed[1][0]}" if seed is not None else None
        if image and names:
            bootstrap.start_real_proof(api, image, names)
        say("waiting for a Deployment to become Available" if image else
            "waiting for a Deployment's pod to be refused its image (no registry)")
        remaining = max(1.0, timeout - (time.monotonic() - started))
        try:
            bootstrap.prove_deployment(api, remaining, lambda: _all_alive(procs), image)
        except TimeoutError as exc:
            raise _failure(
                str(exc), procs,
                ("kube-controller-manager", "kube-scheduler", "kwok", "image-puller"),
            ) from None
        if image and names:
            say(f"waiting for a Deployment on the real node(s) {', '.join(names)}")
            remaining = max(1.0, timeout - (time.monotonic() - started))
            try:
                bootstrap.finish_real_proof(api, remaining, lambda: _all_alive(procs), names)
            except TimeoutError as exc:
                raise _failure(str(exc), procs, kubelets) from None
    say(f"ready in {time.monotonic() - started:.1f}s")
    return info


def _all_alive(procs: list[Proc]) -> bool:
    """True while every component runs; a dead one fails the start at once."""
    for p in procs:
        if not alive(p):
            raise _failure(f"{p.name} exited during start-up", procs, (p.name,))
    return True


def _failure(what: str, procs: list[Proc], suspects: tuple[str, ...]) -> SandboxError:
    logs = []
    for p in procs:
        if p.name in suspects:
            logs.append(f"--- last lines of {p.name}'s log ({p.log}):\n{tail(p.log, 12)}")
    detail = "\n".join(logs) if logs else "(no component log)"
    return SandboxError(
        f"The sandbox could not start: {what}. Suspect component(s): {', '.join(suspects)}; "
        f"everything started was stopped again, logs are kept in the paths below.\n{detail}"
    )


def down(target: SandboxInfo | str = DEFAULT_NAME, *, keep_logs: bool = False) -> bool:
    """Stop a sandbox's processes by PID and remove its directories.

    Returns False when there was nothing to stop. ``keep_logs`` leaves the logs so
    that a failed start can be read about afterwards.
    """
    name = target if isinstance(target, str) else target.name
    info = state.load(name)
    if info is None and isinstance(target, SandboxInfo):
        info = target
    if info is None:
        return False
    # Real nodes first (their kubelets, containerd, containers, mounts, bridges), then
    # the rest in reverse start order: clients first, the API server before its etcd.
    for node, bridge in info.real_nodes.items():
        real_node.teardown(info.work_dir / "nodes" / node, bridge)
    stop(list(reversed(info.procs)))
    if info.registry:
        local_registry.untrust(info.registry, info.registry_ca)  # reads the CA: before rmtree
    shutil.rmtree(info.work_dir, ignore_errors=True)
    if keep_logs:
        for entry in info.state_dir.iterdir():
            if entry.name != "logs":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    else:
        shutil.rmtree(info.state_dir, ignore_errors=True)
    return True


def status(name: str | None = None) -> list[SandboxStatus]:
    """Every sandbox with a state file (or just ``name``), with what is alive."""
    found = [name] if name else state.names()
    result = []
    for n in found:
        info = state.load(n)
        if info is None:
            continue
        running = {p.name: alive(p) for p in info.procs}
        result.append(SandboxStatus(info, running, _api_ready(info)))
    return result


def _api_ready(info: SandboxInfo) -> bool:
    if not info.api_url:
        return False
    try:
        resp = httpx.get(f"{info.api_url}/readyz", verify=False, timeout=2.0)
    except httpx.HTTPError:
        return False
    # /readyz is open to anonymous users only if RBAC allows it; 401/403 still
    # proves the server is up and serving TLS.
    return resp.status_code in (200, 401, 403)
