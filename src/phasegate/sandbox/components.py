"""Command lines of the components, tuned for a fast, single-machine start.

Everything listens on 127.0.0.1 only. The controller-manager and the scheduler serve
no HTTPS endpoint (``--secure-port=0``): nothing here scrapes them, and fixed default
ports would stop two sandboxes from running side by side.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from phasegate.sandbox.pki import Pki

SERVICE_CIDR = "10.96.0.0/16"
# Requests for Namespace objects are audited (only those: a log of everything would grow
# with every test), so a test can prove which identity asked for kube-system and when.
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{group: "", resources: [namespaces]}]
  - level: None
"""
ADMISSION = (
    "NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,ResourceQuota,"
    "NodeRestriction,DefaultTolerationSeconds,TaintNodesByCondition,Priority,"
    "MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy"
)


@dataclass(frozen=True)
class Layout:
    """Where one sandbox's binaries, files and ports are."""

    bin_dir: Path
    work_dir: Path  # temp dir: certs, etcd data, component kubeconfigs
    pki: Pki
    etcd_port: int
    etcd_peer_port: int
    api_port: int

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def kubeconfig(self, who: str) -> Path:
        return self.work_dir / f"{who}.kubeconfig"

    @property
    def audit_policy(self) -> Path:
        return self.work_dir / "audit-policy.yaml"


def audit_log(work_dir: Path) -> Path:
    """The API server's audit log (JSON lines) of the sandbox whose work dir this is."""
    return work_dir / "audit.log"


def etcd(lay: Layout) -> list[str]:
    client = f"http://127.0.0.1:{lay.etcd_port}"
    peer = f"http://127.0.0.1:{lay.etcd_peer_port}"
    return [
        str(lay.bin_dir / "etcd"),
        "--name=sandbox",
        f"--data-dir={lay.work_dir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sandbox={peer}",
        # Throw-away data: durability buys nothing and fsync is the slowest part.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver(lay: Layout) -> list[str]:
    p = lay.pki
    return [
        str(lay.bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{lay.etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={lay.api_port}",
        f"--cert-dir={lay.work_dir / 'apiserver'}",
        f"--tls-cert-file={p.serving.cert}",
        f"--tls-private-key-file={p.serving.key}",
        f"--client-ca-file={p.ca.cert}",
        f"--service-account-key-file={p.sa_pub}",
        f"--service-account-signing-key-file={p.sa_key}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        f"--enable-admission-plugins={ADMISSION}",
        "--allow-privileged=true",
        # The `kubernetes` Service's endpoints would be our advertise address, and
        # 127.0.0.1 is refused there (loopback), logging an error every 10 s; no pod
        # here calls the API through that Service, so leave its endpoints alone.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        f"--audit-policy-file={lay.audit_policy}",
        f"--audit-log-path={audit_log(lay.work_dir)}",
        "--audit-log-format=json",
        # Real nodes' kubelets (real_node.py) serve on their node address; KWOK's
        # fake nodes serve nothing, so their logs and exec fail as they always did.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-client-certificate={p.clients['kubelet-client'].cert}",
        f"--kubelet-client-key={p.clients['kubelet-client'].key}",
    ]


def controller_manager(lay: Layout) -> list[str]:
    p = lay.pki
    kc = lay.kubeconfig("controller-manager")
    return [
        str(lay.bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kc}",
        "--secure-port=0",
        "--leader-elect=false",
        # Each controller acts as its own service account, bound by the bootstrap RBAC
        # roles, as on kubeadm clusters: the controller-manager's own identity alone
        # may not, e.g., update nodes.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={p.sa_key}",
        f"--root-ca-file={p.ca.cert}",
        f"--cluster-signing-cert-file={p.ca.cert}",
        f"--cluster-signing-key-file={p.ca.key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # New nodes carry the not-ready taint until the node lifecycle controller
        # sees them Ready; checking every second instead of 5 s lets pods schedule sooner.
        "--node-monitor-period=1s",
        # Each controller's client is held to 20 requests/s by default: 67 Deployments took
        # 13 s to become Available on an idle machine, all of it waiting on that limit.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        "--controllers=*,-cloud-node-lifecycle-controller,-service-lb-controller,"
        "-node-route-controller,-persistentvolume-attach-detach-controller",
    ]


def scheduler(lay: Layout) -> list[str]:
    kc = lay.kubeconfig("scheduler")
    return [
        str(lay.bin_dir / "kube-scheduler"),
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--secure-port=0",
        "--leader-elect=false",
        "--kube-api-qps=200",  # the default 50 binds pods slower than a burst creates them
        "--kube-api-burst=400",
    ]


def kwok(lay: Layout, stage_files: list[Path]) -> list[str]:
    return [
        str(lay.bin_dir / "kwok"),
        f"--kubeconfig={lay.kubeconfig('kwok')}",
        # Only nodes we create for it; a real kubelet's node would be left alone.
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--node-ip=127.0.0.1",
        *[f"--config={f}" for f in stage_files],
    ]


def image_puller(lay: Layout, registry: str | None, registry_ca: Path | None) -> list[str]:
    """The kubelet's image pulls for KWOK's nodes (image_puller.py), in this Python."""
    client = lay.pki.clients["image-puller"]
    argv = [
        sys.executable, "-m", "phasegate.sandbox.image_puller",
        f"--api={lay.api_url}",
        f"--ca={lay.pki.ca.cert}",
        f"--cert={client.cert}",
        f"--key={client.key}",
    ]
    if registry is not None:
        argv.append(f"--registry={registry}")
    if registry_ca is not None:
        argv.append(f"--registry-ca={registry_ca}")
    return argv
