"""Real nodes: a kubelet with containerd and runc, so that pods really run.

Each real node gets, all made here and all removed by ``teardown``:

- a host bridge ``pgsb<N>`` carrying the node address 10.213.<N>.1/24, the address the
  kubelet serves on (the API server dials it for logs, exec and port-forward) and the
  only route added; the CNI bridge plugin attaches the pods' veths to it. No gateway,
  no masquerade, no iptables rule: pod traffic stays between the node and its pods;
- a mount namespace (``unshare``, held by a ``sleep`` process) in which containerd,
  its shims and the kubelet run. A tmpfs hides the host's /run, /var/lib and /var/log
  from them (see PRIVATE_DIRS) and the kernel tunables the kubelet would otherwise
  write host-wide are shown to it, read-only, at the values it wants.
  Every mount made inside (container root filesystems, volumes, network namespaces)
  disappears with the last process in it;
- containerd with its own root, state, socket and runc root under the sandbox's work
  dir, trusting the sandbox registry's CA for that registry only.

The node is labelled and tainted ``phasegate.dev/node=real`` (NoSchedule): only pods
that tolerate the taint and select the label land on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from phasegate.sandbox import node_config, pulls
from phasegate.sandbox.errors import SandboxError
from phasegate.sandbox.node_config import NodeLayout

BRIDGE_PREFIX = "pgsb"
SUBNETS = range(1, 255)
PROGRAMS = ("containerd", "runc", "ctr", "unshare", "nsenter", "ip")
CNI_PLUGINS = ("bridge", "host-local", "loopback")
INSTALL = "apt-get install containerd runc containernetworking-plugins iproute2 busybox-static"
CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21
# Hidden behind a tmpfs inside the node's mount namespace: containerd keeps network
# namespaces and shim sockets in /run, the kubelet its device-plugin socket in
# /var/lib/kubelet and container log links in /var/log/containers, libcni its cache in
# /var/lib/cni, all at fixed paths two nodes would share and the host would keep.
PRIVATE_DIRS = ("/run", "/var/lib", "/var/log")


def missing() -> list[str]:
    """What this machine lacks to run a real node; empty when it can."""
    found = []
    if os.geteuid() != 0:
        found.append("root (the kubelet, containerd and runc run as root; this is uid "
                     f"{os.geteuid()})")
    caps = _effective_caps()
    for bit, cap in ((CAP_SYS_ADMIN, "CAP_SYS_ADMIN (mounts, namespaces)"),
                     (CAP_NET_ADMIN, "CAP_NET_ADMIN (the node's bridge)")):
        if not caps >> bit & 1:
            found.append(cap)
    found += [f"`{p}` on PATH" for p in PROGRAMS if shutil.which(p) is None]
    found += [f"the CNI plugin {node_config.CNI_BIN / p}" for p in CNI_PLUGINS
              if not (node_config.CNI_BIN / p).is_file()]
    if not (Path("/sys/fs/cgroup/memory").is_dir()
            or Path("/sys/fs/cgroup/cgroup.controllers").is_file()):
        found.append("a memory cgroup (neither /sys/fs/cgroup/memory nor cgroup v2 is mounted)")
    try:
        overlay = "overlay" in Path("/proc/filesystems").read_text()
    except OSError:
        overlay = False
    if not overlay:
        found.append("the overlay filesystem (containerd's snapshotter)")
    return found


def require() -> None:
    lacking = missing()
    if lacking:
        raise SandboxError(
            "A real node (--real-nodes) cannot run on this machine: it lacks "
            f"{'; '.join(lacking)}. On Debian/Ubuntu as root: `{INSTALL}`. Without "
            "--real-nodes the sandbox runs KWOK's fake nodes only, which need none of this."
        )


def _effective_caps() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def node_name(index: int) -> str:
    return f"{pulls.REAL_NODE_PREFIX}{index}"


def claim_bridge(root: Path, name: str) -> NodeLayout:
    """Create the node's bridge under the first free name; the kernel refusing a name
    that exists is what keeps two sandboxes starting at once apart."""
    for n in SUBNETS:
        bridge = f"{BRIDGE_PREFIX}{n}"
        made = subprocess.run(["ip", "link", "add", bridge, "type", "bridge"],
                              capture_output=True, text=True)
        if made.returncode != 0:
            if "exists" in made.stderr:
                continue
            raise SandboxError(f"Creating the real node's bridge {bridge} failed: "
                               f"{made.stderr.strip()}")
        lay = NodeLayout(name=name, root=root, bridge=bridge, subnet=n)
        try:
            _ip("addr", "add", f"{lay.address}/24", "dev", bridge)
            _ip("link", "set", bridge, "up")
        except SandboxError:
            remove_bridge(bridge)
            raise
        return lay
    raise SandboxError(f"No free bridge name {BRIDGE_PREFIX}1-{SUBNETS[-1]} for a real node.")


def remove_bridge(bridge: str) -> None:
    subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


def write_files(lay: NodeLayout, registry: str, registry_ca: Path, ca: Path,
                serving: tuple[Path, Path]) -> None:
    (lay.root / "containerd" / "certs.d" / registry).mkdir(parents=True, exist_ok=True)
    (lay.root / "cni").mkdir(parents=True, exist_ok=True)
    lay.kubelet_dir.mkdir(parents=True, exist_ok=True)
    lay.sysctl_dir.mkdir(parents=True, exist_ok=True)
    pause = f"{registry}/phasegate/pause:1"
    lay.containerd_config.write_text(node_config.containerd(lay, pause))
    (lay.root / "containerd" / "certs.d" / registry / "hosts.toml").write_text(
        node_config.registry_hosts(registry, registry_ca))
    (lay.root / "cni" / "10-phasegate.conflist").write_text(node_config.cni(lay))
    lay.kubelet_config.write_text(node_config.kubelet(lay, ca, *serving))
    for key, value in node_config.KUBELET_SYSCTLS.items():
        (lay.sysctl_dir / key.replace("/", ".")).write_text(value + "\n")


def holder(lay: NodeLayout) -> list[str]:
    """The process that makes and holds the node's mount namespace (see the docstring)."""
    ready = lay.root / "namespace-ready"
    # -n: no utab entry, which would create /run/mount on the host before /run is ours.
    steps = ["set -e"]
    for where in PRIVATE_DIRS:
        steps.append(f"mount -n -t tmpfs -o mode=0755 phasegate-node {where}")
    for key in node_config.KUBELET_SYSCTLS:
        source = lay.sysctl_dir / key.replace("/", ".")
        steps.append(f"mount -n --bind -o ro '{source}' /proc/sys/{key}")
    steps += [f"touch '{ready}'", "exec sleep 2147483647"]
    return ["unshare", "--mount", "--propagation", "slave", "--", "/bin/sh", "-c",
            "\n".join(steps)]


def namespace_ready(lay: NodeLayout) -> bool:
    return (lay.root / "namespace-ready").is_file()


def inside(holder_pid: int, argv: list[str]) -> list[str]:
    return ["nsenter", f"--mount=/proc/{holder_pid}/ns/mnt", "--", *argv]


def record_namespace(lay: NodeLayout, holder_pid: int) -> None:
    """Remember the namespace's identity: ``teardown`` finds its processes by it even
    when the holder is gone."""
    (lay.root / "mount-namespace").write_text(os.readlink(f"/proc/{holder_pid}/ns/mnt"))


def containerd(lay: NodeLayout) -> list[str]:
    return ["containerd", "--config", str(lay.containerd_config)]


def kubelet(lay: NodeLayout, binary: Path) -> list[str]:
    return [
        str(binary),
        f"--config={lay.kubelet_config}",
        f"--kubeconfig={lay.kubeconfig}",
        f"--root-dir={lay.kubelet_dir}",
        f"--cert-dir={lay.kubelet_dir / 'pki'}",
        f"--hostname-override={lay.name}",
        f"--node-ip={lay.address}",
        f"--node-labels={node_config.LABEL}={node_config.LABEL_VALUE}",
    ]


def teardown(root: Path, bridge: str) -> None:
    """Remove everything one real node made, whatever state its start or crash left:
    its containers' processes and cgroups, every process in its mount namespace (which
    takes that namespace's mounts and the pods' network namespaces with it), its bridge.
    """
    # The kubelet and containerd first, so that nothing starts a container meanwhile.
    namespace = _read(root / "mount-namespace")
    if namespace:
        _kill_all(_in_namespace(namespace))
    groups = [g for cid in _container_ids(root) for g in _cgroups(cid)]
    for group in groups:
        _kill_cgroup(group)
    deadline = time.monotonic() + 5.0
    for group in sorted(groups, key=lambda g: -len(g.parts)):
        while group.exists():
            try:
                group.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    break
                _kill_cgroup(group)
                time.sleep(0.05)
    for parent in {g.parent for g in groups}:
        with contextlib.suppress(OSError):  # shared with other containerds, if not empty
            parent.rmdir()
    remove_bridge(bridge)


def _container_ids(root: Path) -> list[str]:
    runc = root / "containerd" / "runc" / "k8s.io"
    try:
        return sorted(entry.name for entry in runc.iterdir() if entry.is_dir())
    except OSError:
        return []


def _cgroups(container_id: str) -> list[Path]:
    base = Path("/sys/fs/cgroup")
    found = [base / "k8s.io" / container_id]
    found += [d / "k8s.io" / container_id for d in base.iterdir() if d.is_dir()]
    return [g for g in found if g.is_dir()]


def _kill_cgroup(group: Path) -> None:
    pids = _read(group / "cgroup.procs").split()
    _kill_all([int(p) for p in pids])


def _in_namespace(namespace: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "mnt") == namespace:
                    pids.append(int(entry.name))
    return pids


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.02)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
