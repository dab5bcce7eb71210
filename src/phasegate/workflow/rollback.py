"""Rolling a phase back: ``auto`` restores what the phase changed from the journal of
what it applied (delete what it created, put back what it updated); explicit steps apply,
delete or run commands; ``none`` leaves everything as it is."""

from __future__ import annotations

import asyncio
import json
import shlex
from typing import Any

from phasegate.errors import ActionError
from phasegate.kube import apply, manifests
from phasegate.kube.client import KubeClient, status_message
from phasegate.plan.model import Phase, RollbackStep
from phasegate.workflow.session import Session

APPLIED = "applied: "


def journals(session: Session, run_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """What each phase applied in a run (this one by default), by phase name, oldest first
    (a phase has several entries after a resume). One read of the store for all phases."""
    bundle = session.store.load(run_id or session.run_id)
    entries: dict[str, list[dict[str, Any]]] = {}
    for artifact in bundle.artifacts:
        if artifact.name.startswith(APPLIED):
            entries.setdefault(artifact.name[len(APPLIED):], []).extend(
                json.loads(artifact.content))
    return entries


async def roll_back(session: Session, phase: Phase) -> str:
    if isinstance(phase.rollback, list):
        return await _explicit(session, phase.rollback)
    return await restore(session.client(), journals(session).get(phase.name, []))


async def restore(client: KubeClient, entries: list[dict[str, Any]], dry_run: bool = False) -> str:
    """Undo ``entries`` in reverse order. With ``dry_run`` the server only validates."""
    done: list[str] = []
    first_seen: dict[str, dict[str, Any]] = {}
    for entry in entries:  # the state before the phase is the first one recorded
        first_seen.setdefault(entry["ref"], entry)
    for entry in reversed(list(first_seen.values())):
        resource = await client.find_kind(entry["kind"], entry["apiVersion"])
        if entry["action"] == "created" or entry["previous"] is None:
            if dry_run:
                await _dry_run_delete(client, resource.path(entry["namespace"], entry["name"]))
            else:
                await apply.delete(client, resource, entry["namespace"], entry["name"])
            done.append(f"deleted {entry['ref']}")
        elif entry["action"] == "updated" and not apply.restorable(entry["previous"]):
            done.append(f"{entry['ref']} not restored (its previous values were never kept: "
                        "secrets do not reach the store)")
        elif entry["action"] == "updated":
            await _put_back(client, resource.path(entry["namespace"], entry["name"]),
                            entry["previous"], dry_run)
            done.append(f"restored {entry['ref']}")
    return ", ".join(done) or "nothing to undo"


async def _put_back(client: KubeClient, path: str, previous: dict[str, Any], dry_run: bool) -> None:
    live = await client.get(path)
    body = json.loads(json.dumps(previous))
    metadata = body.setdefault("metadata", {})
    for key in ("uid", "creationTimestamp", "generation", "managedFields"):
        metadata.pop(key, None)
    if live is None:
        metadata.pop("resourceVersion", None)
        method, target = "POST", path.rsplit("/", 1)[0]
    else:
        metadata["resourceVersion"] = live["metadata"]["resourceVersion"]
        method, target = "PUT", path
    params = {"fieldManager": apply.FIELD_MANAGER, **({"dryRun": "All"} if dry_run else {})}
    response = await client.request(method, target, params=params, body=body)
    if response.status_code >= 400:
        raise ActionError(f"restoring {path} refused: {status_message(response)}")


async def _dry_run_delete(client: KubeClient, path: str) -> None:
    response = await client.request("DELETE", path, params={"dryRun": "All"})
    if response.status_code >= 400 and response.status_code != 404:
        raise ActionError(f"deleting {path} (dry run) refused: {status_message(response)}")


async def _explicit(session: Session, steps: list[RollbackStep]) -> str:
    done = []
    client = session.client()
    for step in steps:
        if step.apply:
            loaded = manifests.load(step.apply, session.plan.base_dir, session.plan.inputs)
            results = await apply.apply_all(client, loaded, session.namespace)
            done.append("applied " + ", ".join(r.ref for r in results))
        if step.delete:
            for manifest in manifests.load(step.delete, session.plan.base_dir,
                                           session.plan.inputs):
                resource = await client.find_kind(manifest.kind, manifest.obj["apiVersion"])
                namespace = (manifest.obj["metadata"].get("namespace") or session.namespace
                             if resource.namespaced else None)
                await apply.delete(client, resource, namespace, manifest.name)
                done.append(f"deleted {manifest.kind} {manifest.name}")
        if step.command:
            done.append(await _command(step.command, session))
    return ", ".join(done) or "nothing to do"


async def _command(command: list[str] | str, session: Session) -> str:
    argv = shlex.split(command) if isinstance(command, str) else command
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=session.plan.base_dir, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    if process.returncode:
        raise ActionError(f"rollback command {shlex.join(argv)} exited {process.returncode}: "
                          f"{out.decode(errors='replace')[-300:]}")
    return f"ran {shlex.join(argv)}"
