"""What a run leaves for people: the deployment record and the retrospective (Markdown)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from phasegate.kube.client import KubeClient
from phasegate.store.records import RunBundle
from phasegate.workflow import rollback
from phasegate.workflow.session import Session

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


async def deployment_record(session: Session, directory: Path,
                            journal_run: str | None = None) -> Path:
    """Components and their status, how to reach them, how to check, log and restart them."""
    client = session.client()
    lines = [f"# Deployment record — {session.plan.metadata.name}", "",
             f"Run `{session.run_id}`, recorded {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.",
             ""]
    if session.plan.metadata.description:
        lines += [session.plan.metadata.description, ""]
    lines += ["## Components", "", "| object | status |", "|---|---|"]
    services: list[dict[str, Any]] = []
    workloads: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for phase in session.plan.phases:
        for entry in rollback.journal(session, phase.name, journal_run):
            if entry["ref"] in seen:
                continue
            seen.add(entry["ref"])
            status = await _status(client, entry)
            lines.append(f"| {entry['ref']} | {status} |")
            if entry["kind"] == "Service":
                services.append(entry)
            if entry["kind"] in WORKLOADS:
                workloads.append((entry["kind"].lower(), entry["name"], entry["namespace"]))
    kubectl = _kubectl(session)
    lines += ["", "## How to reach it", ""]
    lines += [f"- Service `{s['namespace']}/{s['name']}`: `{kubectl} -n {s['namespace']} "
              f"port-forward svc/{s['name']} <local>:<port>`" for s in services] or ["- no Service"]
    lines += ["", "## Health, logs, restart", ""]
    for kind, name, namespace in workloads:
        lines += [f"- `{kubectl} -n {namespace} rollout status {kind}/{name}`",
                  f"- `{kubectl} -n {namespace} logs {kind}/{name} --tail=100`",
                  f"- `{kubectl} -n {namespace} rollout restart {kind}/{name}`"]
    lines += ["", "## Known issues", ""]
    bundle = session.store.load(session.run_id)
    issues = [f"- {step.name}: {step.detail}" for step in bundle.steps
              if step.status not in ("passed", "running")]
    lines += issues or ["- none recorded in this run"]
    path = directory / f"{session.plan.metadata.name}-deployment-record.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _status(client: KubeClient, entry: dict[str, Any]) -> str:
    from phasegate.probes.k8s_workloads import rollout_progress

    resource = await client.find_kind(entry["kind"], entry["apiVersion"])
    live = await client.get(resource.path(entry["namespace"], entry["name"]))
    if live is None:
        return "absent"
    if entry["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
        return rollout_progress(live)[0]
    conditions = (live.get("status") or {}).get("conditions") or []
    if conditions:
        return ", ".join(f"{c.get('type')}={c.get('status')}" for c in conditions)
    return "present"


def _kubectl(session: Session) -> str:
    from phasegate.kube import connections

    target = connections.target_of(session.ctx)
    config = f" --kubeconfig {target.kubeconfig}" if target.kubeconfig else ""
    return f"kubectl{config} --context {target.context}"


def retrospective(bundle: RunBundle, directory: Path, name: str) -> Path:
    """Timeline, what failed with its evidence, time lost, recommendations."""
    lines = [f"# Retrospective — {name}", "", f"Run `{bundle.run.id}`: **{bundle.run.status}**",
             "", bundle.run.summary, "", "## Timeline", "", "| stage | step | status | took |",
             "|---|---|---|---|"]
    for step in bundle.steps:
        took = f"{(step.finished - step.started).total_seconds():.2f} s" if step.finished else "—"
        lines.append(f"| {step.stage} | {step.name} | {step.status} | {took} |")
    finals: dict[tuple[int, str], Any] = {}
    retried = 0
    for step in bundle.steps:
        for observation in step.observations:
            finals[(step.id, observation.name)] = (step, observation)
            retried += observation.attempt > 1
    failed_checks = [(s, o) for s, o in finals.values() if not o.passed]
    failed_steps = [s for s in bundle.steps if s.status in ("failed", "refused", "error")]
    lines += ["", "## What failed", ""]
    lines += [f"- {s.stage} · {s.name}: {s.detail}" for s in failed_steps if not s.observations]
    lines += [f"- {s.stage} · {s.name}: `{o.name}` expected {o.expected}, observed {o.observed}"
              for s, o in failed_checks]
    if len(lines) and lines[-1] == "":
        lines.append("- nothing")
    evidence = [o.observed for _, o in failed_checks] + [s.detail for s in failed_steps]
    lines += ["", "## Recommendations", ""]
    lines += sorted({r for text in evidence for r in recommendations(text)}) or [
        "- none: no failure signature recognised"]
    gates_failed = sum(1 for s in bundle.steps if "gate" in s.name and s.status != "passed")
    lines += ["", "## Metrics", "",
              f"- gates failed: {gates_failed}",
              f"- rollbacks: {sum(1 for s in bundle.steps if s.name.endswith('rollback'))}",
              f"- observations: {sum(len(s.observations) for s in bundle.steps)} "
              f"({retried} were retries while a gate waited)"]
    path = directory / f"{name}-retrospective.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SIGNATURES = {
    "ImagePullBackOff": "- An image could not be pulled: add it to `assumptions.images` so stage R "
                        "checks it before anything is applied.",
    "ErrImagePull": "- An image could not be pulled: add it to `assumptions.images`.",
    "exceeded quota": "- A ResourceQuota refused the change: add a `k8s.quota` assumption with the "
                      "phase's requests.",
    "CrashLoopBackOff": "- A container crash-loops: add a tracer bullet that starts it first.",
    "not served": "- An API version is not served: pin `assumptions.apis` to the served version.",
    "certificate": "- A certificate did not match: add a `tls` criterion with the expected SANs.",
}


def recommendations(observed: str) -> list[str]:
    return [text for signature, text in SIGNATURES.items() if signature in observed]


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)
