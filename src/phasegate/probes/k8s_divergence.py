"""``k8s.divergence``: the plan's manifests compared with what the cluster provides.

Each divergence has a severity and a fix hint; the probe fails on any HIGH one:
HIGH — the change will be refused or cannot work (API version not served, CRD missing,
storage/ingress class missing, requests beyond quota, a Pod Security violation the
namespace enforces — in the words of the server's dry-run warning); MEDIUM — it will be
accepted but not behave (a LoadBalancer Service where no load balancer provider is seen, a
Pod Security warning for a level only warned at); LOW — worth knowing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field

from phasegate.errors import ActionError, ProbeError
from phasegate.kube import apply, connections, crd_waves, manifests, quantity, sources
from phasegate.kube.client import Json, KubeClient, raise_for_status
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams
from phasegate.probes.k8s_common import cluster_probe

POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
POD_SECURITY_KINDS = (*POD_TEMPLATE_KINDS, "Pod", "CronJob", "ReplicationController")
POD_SECURITY = re.compile(r'(?:would )?violates? PodSecurity "(?P<level>[a-z]+):[^"]*": .*',
                          re.IGNORECASE)
POD_SECURITY_FIX = ("set the securityContext the level asks for (the message names each "
                    "field), or deploy where the policy allows it")
LEVELS = {"": 0, "privileged": 0, "baseline": 1, "restricted": 2}
RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2}


@dataclass(frozen=True)
class Divergence:
    severity: str
    object: str
    message: str
    fix: str


class DivergenceParams(ProbeParams):
    apply: sources.Sources = Field(
        description="the plan's manifests: files, directories, {kustomize: DIR}")
    namespace: str | None = Field(None, description="default: the plan's target namespace")

    def describe(self) -> str:
        return f"{len(self.apply)} manifest path(s)"


async def check_divergence(params: DivergenceParams, ctx: ProbeContext) -> Verdict:
    client = connections.client_for(ctx)
    namespace = connections.namespace_of(ctx, params.namespace)
    loaded = manifests.load(params.apply, ctx.base_dir, ctx.extras.get("inputs") or {})
    found: list[Divergence] = []
    found += await _served(client, loaded)
    found += await _classes(client, loaded)
    found += await _quota(client, loaded, namespace)
    found += await _pod_security(client, loaded, namespace)
    found += await _load_balancers(client, loaded)
    high = [d for d in found if d.severity == "HIGH"]
    counts = {s: sum(1 for d in found if d.severity == s) for s in ("HIGH", "MEDIUM", "LOW")}
    observed = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no divergence"
    if found:
        observed += ": " + "; ".join(f"{d.object}: {d.message}" for d in (high or found)[:3])
    detail = "\n".join(f"[{d.severity}] {d.object}: {d.message} — fix: {d.fix}" for d in found)
    return Verdict(not high, "no HIGH divergence", observed, detail=detail,
                   data={"divergences": [asdict(d) for d in found], "counts": counts})


async def _served(client: KubeClient, loaded: list[manifests.Manifest]) -> list[Divergence]:
    planned_crds = crd_waves.planned_kinds(loaded)
    planned_groups = {v.rpartition("/")[0] for v, _ in planned_crds}
    found = []
    for manifest in loaded:
        api_version = str(manifest.obj["apiVersion"])
        if await client.resource(api_version, manifest.kind) is not None:
            continue
        if (api_version, manifest.kind) in planned_crds:
            continue  # the plan installs this CRD itself
        group = api_version.rpartition("/")[0]
        ref = f"{manifest.kind} {manifest.name}"
        where = f" (in {manifest.source})"
        served = await client.group_versions(group) if group else []
        moved = await _served_elsewhere(client, manifest.kind)
        if moved:
            found.append(Divergence("HIGH", ref, f"{api_version} is not served; {manifest.kind} "
                                    f"is served as {moved}{where}",
                                    f"change apiVersion to {moved}"))
        elif served:
            found.append(Divergence("HIGH", ref, f"{api_version} is not served (removed or not "
                                    f"yet enabled); the server serves {', '.join(served)}{where}",
                                    f"change apiVersion to {served[0]}"))
        elif group and (group in planned_groups
                        or ("." in group and not group.endswith("k8s.io"))):
            kinds = sorted({k for v, k in planned_crds if v.rpartition("/")[0] == group})
            fix = (f"check apiVersion and kind: the plan's CRDs of {group} serve "
                   f"{', '.join(kinds)}" if kinds else
                   "install the operator or CRD first (or add it to a phase)")
            found.append(Divergence("HIGH", ref, f"no CRD in the cluster or the plan serves "
                                    f"{api_version}/{manifest.kind}{where}", fix))
        else:
            found.append(Divergence("HIGH", ref,
                                    f"{api_version}/{manifest.kind} is not served{where}",
                                    "check the apiVersion and kind"))
    return found


async def _served_elsewhere(client: KubeClient, kind: str) -> str | None:
    try:
        return (await client.find_kind(kind)).api_version
    except ProbeError:
        return None


async def _classes(client: KubeClient, loaded: list[manifests.Manifest]) -> list[Divergence]:
    # Classes are cluster-scoped: listed only when a manifest names one, so a namespace-scoped
    # identity is not refused over a question its plan does not ask.
    planned = {(m.kind, m.name) for m in loaded}
    wanted = [(m, name, "StorageClass") for m in loaded for name in _storage_classes(m.obj)]
    wanted += [(m, str(m.obj["spec"]["ingressClassName"]), "IngressClass") for m in loaded
               if m.kind == "Ingress" and (m.obj.get("spec") or {}).get("ingressClassName")]
    wanted = [w for w in wanted if (w[2], w[1]) not in planned]
    paths = {"StorageClass": "/apis/storage.k8s.io/v1/storageclasses",
             "IngressClass": "/apis/networking.k8s.io/v1/ingressclasses"}
    existing = {kind: await _names(client, path) for kind, path in paths.items()
                if any(w[2] == kind for w in wanted)}
    found = []
    for manifest, name, kind in wanted:
        ref = f"{manifest.kind} {manifest.name}"
        what = "storage class" if kind == "StorageClass" else "ingress class"
        have = existing[kind]
        if have is None:
            found.append(Divergence("MEDIUM", ref, f"{what} {name!r} not checked: this "
                                    f"identity may not list {paths[kind].rpartition('/')[2]}",
                                    "grant list on it cluster-wide, or check by hand"))
        elif name not in have:
            fix = ("use an existing class or install the provisioner" if kind == "StorageClass"
                   else "use an existing class or install the ingress controller")
            found.append(Divergence("HIGH", ref, f"{what} {name!r} does not exist "
                                    f"(the cluster has: {', '.join(have) or 'none'})", fix))
    return found


def _storage_classes(obj: Json) -> list[str]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "PersistentVolumeClaim":
        return [spec["storageClassName"]] if spec.get("storageClassName") else []
    return [t["spec"]["storageClassName"] for t in spec.get("volumeClaimTemplates") or []
            if (t.get("spec") or {}).get("storageClassName")]


async def _names(client: KubeClient, path: str) -> list[str] | None:
    """The names listed at ``path``; None when this identity may not list them."""
    response = await client.request("GET", path)
    if response.status_code == 403:
        return None
    if response.status_code == 404:
        return []
    raise_for_status(response, f"GET {path}")
    return [item["metadata"]["name"] for item in response.json().get("items") or []]


def _pod_specs(obj: Json) -> list[tuple[Json, int]]:
    """(pod spec, how many pods) for workloads and bare pods."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return [(spec, 1)]
    if kind in POD_TEMPLATE_KINDS:
        replicas = 1 if kind in ("DaemonSet", "Job") else int(spec.get("replicas", 1))
        return [((spec.get("template") or {}).get("spec") or {}, replicas)]
    return []


async def _quota(client: KubeClient, loaded: list[manifests.Manifest],
                 namespace: str) -> list[Divergence]:
    needed: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for manifest in loaded:
        target = (manifest.obj.get("metadata") or {}).get("namespace") or namespace
        for pod, count in _pod_specs(manifest.obj):
            needed[target]["pods"] += count
            for container in pod.get("containers") or []:
                requests = (container.get("resources") or {}).get("requests") or {}
                for resource, amount in requests.items():
                    needed[target][f"requests.{resource}"] += quantity.parse(amount) * count
    found = []
    for target, wants in needed.items():
        body = await client.get(f"/api/v1/namespaces/{target}/resourcequotas") or {}
        for quota in body.get("items") or []:
            hard = (quota.get("status") or {}).get("hard") or quota["spec"].get("hard") or {}
            used = (quota.get("status") or {}).get("used") or {}
            for resource, amount in wants.items():
                for name in (resource, resource.removeprefix("requests.")):
                    if name not in hard:
                        continue
                    left = quantity.parse(hard[name]) - quantity.parse(used.get(name, "0"))
                    if amount > left:
                        found.append(Divergence(
                            "HIGH", f"ResourceQuota {target}/{quota['metadata']['name']}",
                            f"the plan asks for {quantity.show(amount)} {name}, "
                            f"{quantity.show(left)} left", "raise the quota or lower requests"))
                    break
    return found


async def _pod_security(client: KubeClient, loaded: list[manifests.Manifest],
                        namespace: str) -> list[Divergence]:
    """What the server's Pod Security admission says of a dry run (the authority: it knows
    every rule of the level), and what the namespace labels make of obvious privileges."""
    found = []
    levels: dict[str, dict[str, str]] = {}
    for manifest in loaded:
        target = (manifest.obj.get("metadata") or {}).get("namespace") or namespace
        if target not in levels:
            live = await client.get(f"/api/v1/namespaces/{target}") or {}
            labels = (live.get("metadata") or {}).get("labels") or {}
            levels[target] = {mode: labels.get(f"pod-security.kubernetes.io/{mode}", "")
                              for mode in ("enforce", "warn")}
        level = levels[target]
        ref = f"{manifest.kind} {manifest.name}"
        told = await _server_says(client, manifest, target, level["enforce"]) if (
            manifest.kind in POD_SECURITY_KINDS) else None
        if told is not None:
            found.append(Divergence(told[0], ref, told[1], POD_SECURITY_FIX))
        for pod, _ in _pod_specs(manifest.obj):
            problems = _privileges(pod)
            if not problems:
                continue
            severity = "HIGH" if level["enforce"] in ("baseline", "restricted") else (
                "MEDIUM" if level["warn"] in ("baseline", "restricted") else "LOW")
            if told is not None and RANK[told[0]] >= RANK[severity]:
                continue  # the server said as much already
            where = (f"namespace {target} enforces {level['enforce']}" if severity == "HIGH"
                     else f"namespace {target} warns at {level['warn']}" if severity == "MEDIUM"
                     else "allowed here, refused by baseline/restricted namespaces")
            found.append(Divergence(severity, ref, f"{', '.join(problems)}: {where}",
                                    "drop the privilege, or run where the policy allows it"))
    return found


async def _server_says(client: KubeClient, manifest: manifests.Manifest, namespace: str,
                       enforced: str) -> tuple[str, str] | None:
    """(severity, message) from a server-side dry run's Pod Security warning or refusal:
    HIGH when the namespace enforces the level violated (its pods will be refused)."""
    try:
        result = await apply.apply_one(client, manifest, namespace, dry_run=True)
    except ActionError as exc:
        said = POD_SECURITY.search(str(exc))
        if said is None:
            return None  # refused for another reason: k8s.dry_run in stage P says why
        return "HIGH", f"refused by the server: {said.group(0)}"
    for warning in result.warnings:
        said = POD_SECURITY.search(warning)
        if said is None:
            continue
        violated = said.group("level")
        if LEVELS.get(enforced, 0) >= LEVELS.get(violated, 0):
            return "HIGH", (f"its pods will be refused: namespace {namespace} enforces "
                            f"{enforced}; the server warns: {said.group(0)}")
        return "MEDIUM", f"the server warns: {said.group(0)}"
    return None


def _privileges(pod: Json) -> list[str]:
    problems = []
    if any("hostPath" in volume for volume in pod.get("volumes") or []):
        problems.append("hostPath volume")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(flag)
    for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        context: dict[str, Any] = container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append(f"privileged container {container.get('name')}")
        if context.get("runAsUser") == 0 or (pod.get("securityContext") or {}).get(
                "runAsUser") == 0:
            problems.append(f"container {container.get('name')} runs as root (runAsUser 0)")
    return sorted(set(problems))


async def _load_balancers(client: KubeClient,
                          loaded: list[manifests.Manifest]) -> list[Divergence]:
    wanted = [m for m in loaded if m.kind == "Service"
              and (m.obj.get("spec") or {}).get("type") == "LoadBalancer"]
    if not wanted:
        return []
    response = await client.request("GET", "/api/v1/services")
    if response.status_code == 403:
        return [Divergence("LOW", f"Service {m.name}", "type LoadBalancer; whether the cluster "
                           "provides load balancers is not checked: this identity may not "
                           "list Services cluster-wide", "grant list on services cluster-wide, "
                           "or check by hand") for m in wanted]
    raise_for_status(response, "GET /api/v1/services")
    provider = any(((s.get("status") or {}).get("loadBalancer") or {}).get("ingress")
                   for s in response.json().get("items") or [])
    if provider:
        return []
    return [Divergence("MEDIUM", f"Service {m.name}", "type LoadBalancer, but no Service in "
                       "the cluster has ever been given a load balancer address",
                       "use NodePort/ClusterIP with an Ingress, or install a provider "
                       "(MetalLB, a cloud controller)") for m in wanted]


PROBES = [cluster_probe("k8s.divergence", DivergenceParams, check_divergence,
                    "the plan's manifests against what the cluster provides; fails on HIGH")]
