"""What a run leaves for people: the deployment record and the retrospective (Markdown)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from phasegate.kube.client import KubeClient
from phasegate.store import records as store_records
from phasegate.workflow import helm_release, rollback
from phasegate.workflow.session import Session

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
DEPLOYMENT_RECORD = store_records.DEPLOYMENT_RECORD  # the artifact's name


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
    applied = rollback.journals(session, journal_run)
    for phase in session.plan.phases:
        for entry in _objects(applied.get(phase.name, [])):
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
    text = "\n".join(lines) + "\n"
    path = directory / f"{session.plan.metadata.name}-deployment-record.md"
    path.write_text(text, encoding="utf-8")
    # kept in the store too: the dashboard (and a team's PostgreSQL store) shows it where
    # the reports directory of the machine that ran it is out of reach
    session.store.add_artifact(session.run_id, DEPLOYMENT_RECORD, text, "text/markdown")
    return path


def _objects(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A phase's journal, a Helm release's entry standing for the objects it installed."""
    found: list[dict[str, Any]] = []
    for entry in entries:
        found += entry.get("objects", []) if entry.get("action") == helm_release.ACTION else [entry]
    return found


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
