"""The Kubernetes rows: kubeconfig, context, API server, who-am-I, the plan's cluster pin.

A row that cannot be asked because an earlier one failed is skipped, saying which: one
broken kubeconfig is one failure, not five.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasegate.doctor import report
from phasegate.doctor.report import Row
from phasegate.errors import PhasegateError, TargetError
from phasegate.kube import client as kube_client
from phasegate.kube import connections, kubeconfig, kubeconfig_files
from phasegate.kube import target as kube_target
from phasegate.kube.client import KubeClient
from phasegate.plan.model import Plan

REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
TIMEOUT = 5.0  # a first-run check answers quickly or says the server does not
_KUBECONFIG_FIX = ("pass --kubeconfig FILE or set KUBECONFIG (or PHASEGATE_KUBECONFIG); "
                   "`phasegate sandbox up` writes one for a local cluster to try")


@dataclass(frozen=True)
class Where:
    kubeconfig: str | None  # --kubeconfig (or the plan's target.kubeconfig)
    context: str | None  # --context, the plan's target.context, or None


async def rows(kubeconfig_option: str | None, context_option: str | None,
               plan: Plan | None) -> list[Row]:
    found: list[Row] = []
    try:
        where = _where(kubeconfig_option, context_option, plan)
    except TargetError as exc:  # --context against the plan's declared one
        return [report.fail("context", str(exc), "drop --context, or edit target.context")]
    try:
        merged = kubeconfig_files.read(where.kubeconfig)
    except TargetError as exc:
        return [report.fail("kubeconfig", str(exc), _KUBECONFIG_FIX), *_skipped("kubeconfig")]
    if not merged.files:
        files = ", ".join(str(f) for f in kubeconfig_files.paths(where.kubeconfig)[0])
        return [report.fail("kubeconfig", f"no kubeconfig file found (looked for {files})",
                            _KUBECONFIG_FIX), *_skipped("kubeconfig")]
    found.append(report.ok("kubeconfig", ", ".join(str(f) for f in merged.files)))
    names = sorted(merged.entries["contexts"])
    context = where.context
    if context is None:
        current = merged.current_context
        if current is None:
            return [*found, report.fail("context", "no context named, and the kubeconfig has "
                                        "no current-context", _pick(names)),
                    *_skipped("context")]
        found.append(report.warn(
            "context", f"{current!r} (the kubeconfig's current-context): phasegate never "
            "falls back to it", f"name it: --context {current}, or target.context in the "
            "plan"))
        context = current
    try:
        credentials = kubeconfig.load(where.kubeconfig, context)
    except TargetError as exc:
        return [*found, report.fail("context", str(exc), _pick(names)), *_skipped("context")]
    if where.context is not None:
        found.append(report.ok("context", f"{context!r}: cluster {credentials.cluster!r}, "
                               f"user {credentials.user or '(none)'!r}"))
    found += await _server_rows(credentials, context)
    if plan is not None and found[-1].status != "fail":
        found.append(await _pin_row(plan, where, context))
    return found


def _where(kubeconfig_option: str | None, context_option: str | None,
           plan: Plan | None) -> Where:
    if plan is None:
        return Where(kubeconfig_option, context_option)
    chosen = kube_target.choose(plan.target.context, plan.target.kubeconfig, plan.base_dir,
                                context_option, kubeconfig_option, plan.target.namespace)
    if chosen is None:
        return Where(kubeconfig_option, None)
    return Where(chosen.kubeconfig, chosen.context)


async def _server_rows(credentials: kubeconfig.Credentials, context: str) -> list[Row]:
    client = KubeClient(credentials, timeout=TIMEOUT)
    try:
        try:
            version = await client.get("/version") or {}
        except PhasegateError as exc:
            return [report.fail("API server", str(exc), _reach(credentials, context)),
                    report.skip("who am I", "the API server did not answer")]
        served = report.ok("API server", f"{credentials.server} answers, Kubernetes "
                           f"{version.get('gitVersion', '?')}")
        return [served, await _whoami(client, context)]
    finally:
        await client.close()


async def _whoami(client: KubeClient, context: str) -> Row:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        response = await client.request("POST", REVIEWS, body=body)
    except PhasegateError as exc:
        return report.fail("who am I", str(exc), "ask again: the API server stopped answering")
    if response.status_code == 401:
        return report.fail("who am I", "the API server rejects these credentials (401: "
                           f"{kube_client.status_message(response)})",
                           f"renew the credentials of context {context!r} (an expired token "
                           "or certificate); log in again the way your cluster hands them out")
    if response.status_code in (403, 404):
        why = ("this server does not serve SelfSubjectReview (Kubernetes < 1.28)"
               if response.status_code == 404 else
               f"not allowed to ask ({kube_client.status_message(response)})")
        return report.warn("who am I", why, "nothing blocks a run; upgrade the cluster or "
                           "grant create on selfsubjectreviews to see who you are")
    try:
        kube_client.raise_for_status(response, f"POST {REVIEWS}")
        info = response.json()["status"]["userInfo"]
    except (PhasegateError, ValueError, KeyError, TypeError) as exc:
        return report.fail("who am I", f"no user in the answer: {exc}",
                           "is the kubeconfig's server a Kubernetes API server?")
    groups = ", ".join(str(g) for g in info.get("groups") or [])
    return report.ok("who am I", f"{info.get('username', '?')} (groups: {groups or 'none'})")


async def _pin_row(plan: Plan, where: Where, context: str) -> Row:
    declared = plan.target
    if not (declared.cluster_uid or declared.server or declared.ca_fingerprint):
        return report.skip("cluster pin", "the plan pins no cluster (--level staging needs "
                           "target.clusterUID)")
    target = connections.KubeTarget(kubeconfig=where.kubeconfig, context=context,
                                    namespace=declared.namespace or "default")
    try:
        found = await kube_target.verify(target, declared.server, declared.cluster_uid,
                                         declared.ca_fingerprint)
    except PhasegateError as exc:
        return report.fail("cluster pin", str(exc), "run against the cluster the plan pins, "
                           "or (after review) pin the one this context reaches")
    return report.ok("cluster pin", f"the plan's cluster: {found.identified_by} "
                     f"{found.cluster_uid or found.ca_fingerprint or found.server}")


def _reach(credentials: kubeconfig.Credentials, context: str) -> str:
    return (f"is the cluster up? check the server of cluster {credentials.cluster!r} in "
            f"{credentials.kubeconfig} and that this machine reaches it "
            f"(`kubectl --context {context} get --raw /version` asks the same)")


def _pick(names: list[str]) -> str:
    if not names:
        return "the kubeconfig defines no context: add one, or use another kubeconfig"
    return "name one of its contexts with --context: " + ", ".join(names)


def _skipped(after: str) -> list[Row]:
    why = f"needs a working {after}"
    return [report.skip(name, why) for name in ("API server", "who am I")]
