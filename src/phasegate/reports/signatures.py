"""Failure signatures: what a failure *was*, so it can be recognised again and acted on.

A signature is a probe kind (or the step kind for a failure without a probe: ``apply``,
``rollback``, …) and a reason. Known reasons carry a stable key and a recommendation; any
other reason is normalised (addresses, digests, long numbers and quoted names replaced by
placeholders) so the same failure on another host or tag still reads as the same one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    key: str
    reason: str  # the signature's reason, said for people
    pattern: re.Pattern[str]
    recommendation: str


def _known(key: str, reason: str, pattern: str, recommendation: str) -> Known:
    return Known(key, reason, re.compile(pattern, re.IGNORECASE), recommendation)


# First match wins: the more specific come first.
CATALOG: tuple[Known, ...] = (
    _known("image-pull", "image could not be pulled", r"ImagePullBackOff|ErrImagePull",
           "An image could not be pulled: add it to `assumptions.images` so stage R checks it "
           "before anything is applied."),
    _known("quota-exceeded", "refused by a ResourceQuota", r"exceeded quota",
           "A ResourceQuota refused the change: add a `k8s.quota` assumption with the phase's "
           "requests (`assumptions.probes: [{k8s.quota: {requests: {pods: N, requests.cpu: "
           "…}}}]`), so stage R finds the missing headroom before anything is applied."),
    # Pod-creation refusals: the workload is accepted, its pods are not.
    _known("pod-security", "pods refused by Pod Security", r"violates PodSecurity",
           "Pod Security refused the pods: stage R's divergence check sees the server's "
           "dry-run warnings; set the securityContext the namespace's level asks for "
           "(runAsNonRoot, allowPrivilegeEscalation: false, capabilities.drop: [ALL], "
           "seccompProfile: RuntimeDefault), or deploy where the policy allows it."),
    _known("limit-range", "pods refused by a LimitRange",
           r"(maximum|minimum) \S+ usage per (Container|Pod)|limit to request ratio",
           "A LimitRange refused the pods: keep the containers' requests and limits inside "
           "the namespace's LimitRange, and add a tracer bullet that starts one pod with "
           "the phase's resources, so stage 0 meets the limit first."),
    _known("service-account-missing", "ServiceAccount missing",
           r"error looking up service account|serviceaccount \"[^\"]*\" not found",
           "Pods named a ServiceAccount that does not exist: apply it in the phase (or an "
           "earlier one), or add a `k8s.exists` assumption for it to stage R."),
    _known("pod-creation-refused", "pods refused at creation", r"pod creation refused",
           "The API server refused the workload's pods: add a tracer bullet that creates one, "
           "so stage 0 meets the refusal before the rollout."),
    _known("crash-loop", "container crash-loops", r"CrashLoopBackOff",
           "A container crash-loops: add a tracer bullet that starts it first."),
    _known("api-not-served", "API version not served", r"not served",
           "An API version is not served: pin `assumptions.apis` to the served version."),
    _known("tls-san-mismatch", "certificate does not cover the address",
           r"SAN lacks|certificate is valid for|hostname mismatch|doesn't match",
           "A certificate did not cover the address clients use: add a `tls` criterion with "
           "the expected SANs to the task that regenerates it, and a `tls` assumption to the "
           "plan."),
    _known("tls-untrusted", "certificate chain not trusted", r"untrusted|unable to get local "
           r"issuer|self.signed|certificate verify failed",
           "A certificate chain was not trusted: give the probe the CA (`ca:`) or fix the "
           "chain the server sends; check it with a `tls` assumption."),
    _known("tls-expiring", "certificate expires too soon", r"expires in|expired",
           "A certificate expires too soon: add `min_days` to its `tls` criterion so renewal "
           "is due before it fails."),
    _known("tag-not-found", "tag not in the registry", r"tag not found|manifest not found",
           "An image tag was missing from the registry: add a `registry.catalog` criterion "
           "listing every tag the build must push, and verify it before the rollout."),
    _known("catalog-incomplete", "registry catalog incomplete", r"^missing \d+ of \d+",
           "Repositories or tags were missing from the registry catalog: make the build's "
           "push a gate (a `registry.catalog` criterion or assumption listing every tag) and "
           "wait on it before the rollout."),
    _known("repository-not-found", "repository not in the registry", r"repository not found",
           "A repository was missing: check the image name, and list it in a "
           "`registry.catalog` criterion."),
    _known("unauthorized", "credentials refused", r"unauthorized|forbidden|401|403",
           "Credentials were refused: add a `k8s.can_i` (cluster) or a registry probe with "
           "the CI credentials to stage R."),
    _known("missing-platform", "image lacks a platform", r"missing platform",
           "An image lacks a platform: add `platforms` to its `image` assumption."),
    _known("unreachable", "endpoint unreachable", r"connection refused|unreachable|"
           r"host unreachable|name not resolved",
           "An endpoint was unreachable: add a `tcp` assumption for it, so stage R finds it "
           "down before the change starts."),
    _known("timed-out", "timed out", r"timed out|timeout",
           "Something timed out: record its expected duration as the gate's timeout, and add "
           "a probe that shows progress."),
    _known("not-ready", "not ready in time", r"not ready|0/\d+ ready|unavailable",
           "A workload was not ready in time: add a tracer bullet for it, and check the "
           "diagnostics attached to the gate."),
)

_PLACEHOLDERS = (
    (re.compile(r"sha256:[0-9a-f]{12,}"), "<digest>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<address>"),
    (re.compile(r"\b[\w.-]+:\d{2,5}\b"), "<host:port>"),
    (re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b"), "<run>"),
    (re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`"), "<name>"),
    (re.compile(r"\b\d+ of \d+\b"), "<n> of <n>"),
    (re.compile(r"\b\d+\.\d+\b"), "<n>"),
    (re.compile(r"\b\d{4,}\b"), "<n>"),
)


@dataclass(frozen=True)
class Signature:
    kind: str  # the probe kind, or the step's kind for a failure without a probe
    reason: str
    known: Known | None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.known.key if self.known else self.reason}"

    @property
    def recommendation(self) -> str | None:
        return self.known.recommendation if self.known else None


def classify(kind: str, text: str) -> Signature:
    for known in CATALOG:
        if known.pattern.search(text):
            return Signature(kind, known.reason, known)
    return Signature(kind, normalise(text), None)


def normalise(text: str) -> str:
    """The reason of a failure text: its first clause, with specifics replaced."""
    first = re.split(r"[:;(\n]", text.strip(), maxsplit=1)[0].strip() or text.strip()
    for pattern, placeholder in _PLACEHOLDERS:
        first = pattern.sub(placeholder, first)
    first = " ".join(first.split())
    return (first[:80] + "…") if len(first) > 80 else (first or "failed")


# the steps of phases and tracers a signature names by kind; any other step by its stage
ACTIONS = frozenset({"apply", "gate", "rollback"})


def step_kind(stage: str, kind: str) -> str:
    """What failed when a step failed without a probe, from the step's fields: a phase's or
    tracer's ``apply``, ``gate`` or ``rollback``, or else the step's stage (``P``, ``V``,
    ``task``, …)."""
    if stage in ("I", "0") and kind in ACTIONS:
        return kind
    return stage or "step"


def recommendations(text: str) -> list[str]:
    """Every catalogued recommendation whose pattern the text matches (``- `` bullets)."""
    return [f"- {k.recommendation}" for k in CATALOG if k.pattern.search(text)]
