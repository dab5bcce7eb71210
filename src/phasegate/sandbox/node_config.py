"""The files of a real node: containerd's config, the kubelet's, the CNI network.

Every path is under the node's own directory in the sandbox's work dir, so two
sandboxes (and the host's own containerd, if any) never share a socket, a root or a
state dir. Written as text: the formats are small and fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

LABEL = "phasegate.dev/node"
LABEL_VALUE = "real"
CNI_BIN = Path("/usr/lib/cni")
# The kernel tunables the kubelet insists on (it would otherwise write them host-wide);
# see real_node.py for how they are shown to it without changing the host.
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}


@dataclass(frozen=True)
class NodeLayout:
    """Where one real node keeps its files, and its network."""

    name: str  # the Node object's name
    root: Path  # <work>/nodes/<name>
    bridge: str  # host bridge the CNI plugin attaches pods to; carries the node address
    subnet: int  # the third octet: pods get 10.213.<subnet>.10-250, the node .1

    @property
    def address(self) -> str:
        return f"10.213.{self.subnet}.1"

    @property
    def socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def runc_root(self) -> Path:
        """runc's state: one directory per container, kept on disk so that ``down``
        can name every container even after containerd died."""
        return self.root / "containerd" / "runc"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet-config.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubelet.kubeconfig"

    @property
    def sysctl_dir(self) -> Path:
        return self.root / "sysctl"


def containerd(lay: NodeLayout, sandbox_image: str) -> str:
    c = lay.root / "containerd"
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    return f"""# containerd for phasegate sandbox node {lay.name} (written by node_config.py)
version = 2
root = {json.dumps(str(c / "root"))}
state = {json.dumps(str(c / "state"))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = {json.dumps(str(lay.socket))}

[ttrpc]
  address = {json.dumps(str(c / "containerd.sock.ttrpc"))}

[debug]
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {json.dumps(str(c / "opt"))}

{cri}
  sandbox_image = {json.dumps(sandbox_image)}
  # No CAP_SYS_RESOURCE here: a negative oom_score_adj is refused and runc fails.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true

{cri[:-1]}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

{cri[:-1]}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

{cri[:-1]}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = {json.dumps(str(lay.runc_root))}

{cri[:-1]}.cni]
  bin_dir = {json.dumps(str(CNI_BIN))}
  conf_dir = {json.dumps(str(lay.root / "cni"))}

{cri[:-1]}.registry]
  config_path = {json.dumps(str(c / "certs.d"))}
"""


def registry_hosts(host: str, ca: Path) -> str:
    """``certs.d/<host>/hosts.toml``: containerd pulls from the sandbox registry over TLS,
    trusting the sandbox's CA (and only for that host)."""
    # The CA goes with `server` too: containerd tries the [host] entries first, then
    # `server`, so without it a missing tag would end in "x509: unknown authority"; and
    # containerd 1.6 refuses a file without a [host] entry.
    return (
        f'server = "https://{host}"\n'
        f"ca = {json.dumps(str(ca))}\n\n"
        f'[host."https://{host}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
        f"  ca = {json.dumps(str(ca))}\n"
    )



def cni(lay: NodeLayout) -> str:
    """A bridge network without gateway or masquerade: pods reach the node address and
    each other, nothing else; no iptables rule and no sysctl is changed for it."""
    network = {
        "cniVersion": "0.4.0",
        "name": f"phasegate-{lay.name}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": lay.bridge,
                "isGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": f"10.213.{lay.subnet}.0/24",
                                 "rangeStart": f"10.213.{lay.subnet}.10",
                                 "rangeEnd": f"10.213.{lay.subnet}.250"}]],
                    "dataDir": str(lay.root / "cni-ipam"),
                },
            },
            {"type": "loopback"},
        ],
    }
    return json.dumps(network, indent=2) + "\n"


def kubelet(lay: NodeLayout, ca: Path, cert: Path, key: Path) -> str:
    """The kubelet's configuration, for cgroup v1 hosts as well as v2."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "containerRuntimeEndpoint": f"unix://{lay.socket}",
        "address": lay.address,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzPort": 0,
        "tlsCertFile": str(cert),
        "tlsPrivateKeyFile": str(key),
        # Only the API server (its kubelet-client certificate) may use the kubelet API.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "registerWithTaints": [{"key": LABEL, "value": LABEL_VALUE, "effect": "NoSchedule"}],
        "podLogsDir": str(lay.root / "pod-logs"),
        # Lowering it needs CAP_SYS_RESOURCE, which processes here lack.
        "oomScoreAdj": 0,
        "failSwapOn": False,
        "serializeImagePulls": False,
        "resolvConf": "",
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "nodeStatusUpdateFrequency": "2s",
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "20s",
        "maxPods": 30,
        "localStorageCapacityIsolation": False,
    }
    return json.dumps(config, indent=2) + "\n"
