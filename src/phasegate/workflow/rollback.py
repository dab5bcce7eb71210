"""Rolling a phase back: ``auto`` restores what the phase changed from the journal of
what it applied (delete what it created, put back what it updated); explicit steps apply,
delete or run commands; ``none`` leaves everything as it is."""

from __future__ import annotations

import asyncio
import json
import shlex
from typing import Any

from phasegate.errors import ActionError, PhasegateError
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


CONFLICT_ATTEMPTS = 5  # restoring PUTs per object before a conflict is reported as left


async def restore(client: KubeClient, entries: list[dict[str, Any]], dry_run: bool = False) -> str:
    """Undo ``entries`` in reverse order. With ``dry_run`` the server only validates.

    Every object is tried, even after one fails: the error then lists what was undone and
    precisely what was not, each with the API's reason."""
    done: list[str] = []
    left: list[str] = []
    first_seen: dict[str, dict[str, Any]] = {}
    for entry in entries:  # the state before the phase is the first one recorded
        first_seen.setdefault(entry["ref"], entry)
    for entry in reversed(list(first_seen.values())):
        try:
            undone = await _undo(client, entry, dry_run)
        except PhasegateError as exc:
            left.append(f"{entry['ref']} ({exc})")
            continue
        if undone:
            done.append(undone)
    if left:
        raise ActionError("rollback incomplete — undone: " + (", ".join(done) or "nothing")
                          + "; not undone: " + "; ".join(left))
    return ", ".join(done) or "nothing to undo"


async def _undo(client: KubeClient, entry: dict[str, Any], dry_run: bool) -> str | None:
    """Undo one journal entry; what was done, or None when there was nothing to undo."""
    resource = await client.find_kind(entry["kind"], entry["apiVersion"])
    path = resource.path(entry["namespace"], entry["name"])
    if entry["action"] == "created" or entry["previous"] is None:
        if dry_run:
            await _dry_run_delete(client, path)
        else:
            await apply.delete(client, resource, entry["namespace"], entry["name"])
        return f"deleted {entry['ref']}"
    if entry["action"] == "updated" and not apply.restorable(entry["previous"]):
        return (f"{entry['ref']} not restored (its previous values were never kept: "
                "secrets do not reach the store)")
    if entry["action"] == "updated":
        conflicts = await _put_back(client, path, entry["previous"], dry_run)
        again = f" after {conflicts} conflict{'s' * (conflicts > 1)} (re-read, snapshot " \
                "re-applied)" if conflicts else ""
        return f"restored {entry['ref']}{again}"
    return None  # the phase left it unchanged


async def _put_back(client: KubeClient, path: str, previous: dict[str, Any],
                    dry_run: bool) -> int:
    """PUT the snapshot back over the live object; on 409 Conflict (someone — often a
    controller — wrote in between) re-read and re-apply, a bounded number of times.
    Returns how many conflicts were met."""
    params = {"fieldManager": apply.FIELD_MANAGER, **({"dryRun": "All"} if dry_run else {})}
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
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
        response = await client.request(method, target, params=params, body=body)
        if response.status_code < 400:
            return attempt - 1
        if response.status_code != 409 or attempt == CONFLICT_ATTEMPTS:
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            raise ActionError(f"restoring refused{tries}: {status_message(response)}")
        await asyncio.sleep(0.05 * 2 ** attempt)
    raise AssertionError("unreachable")


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
