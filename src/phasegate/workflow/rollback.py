"""Rolling a phase back: ``auto`` restores what the phase changed from the journal of
what it applied (delete what it created, put back what it updated); explicit steps apply,
delete or run commands; ``none`` leaves everything as it is."""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

import httpx

from phasegate.errors import ActionError, PhasegateError
from phasegate.kube import apply, manifests, snapshot
from phasegate.kube.client import KubeClient, status_message
from phasegate.plan.model import Phase, RollbackStep
from phasegate.store import records
from phasegate.workflow import helm_release
from phasegate.workflow.session import Session

APPLIED = "applied: "  # the name of the evidence artifact of what a phase applied (for people)


def journals(session: Session, run_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """What each phase applied in a run (this one by default), by phase name, oldest first
    (a phase has several entries after a resume): the journals of its apply steps. One read
    of the store for all phases."""
    bundle = session.store.load(run_id or session.run_id)
    entries: dict[str, list[dict[str, Any]]] = {}
    for step in bundle.steps:
        if step.kind == records.APPLY and step.phase is not None:
            entries.setdefault(step.phase, []).extend(step.journal)
    return entries


async def roll_back(session: Session, phase: Phase) -> str:
    if isinstance(phase.rollback, list):
        return await _explicit(session, phase.rollback)
    if phase.helm is not None:
        return await helm_release.roll_back(session, phase, journals(session).get(phase.name, []))
    return await restore(session.client(), journals(session).get(phase.name, []))


CONFLICT_ATTEMPTS = 5  # restoring PUTs per object before a conflict is reported as left


async def restore(client: KubeClient, entries: list[dict[str, Any]], dry_run: bool = False) -> str:
    """Undo ``entries`` in reverse order. With ``dry_run`` the server only validates.

    Every object is tried, even after one fails: the error then lists what was undone and
    precisely what was not, each with the API's reason. What could be put back only in part
    (a Secret's values, a field the API no longer lets change) is said with the object."""
    done: list[str] = []
    left: list[str] = []
    first_seen: dict[str, dict[str, Any]] = {}
    created: dict[str, str] = {}
    for entry in entries:  # the state before the phase is the first one recorded
        first_seen.setdefault(entry["ref"], entry)
        if entry["action"] == "created" and entry.get("uid"):
            created[entry["ref"]] = entry["uid"]  # after a resume, the latest one is ours
    for entry in reversed(list(first_seen.values())):
        try:
            undone = await _undo(client, entry, created.get(entry["ref"]), dry_run)
        except PhasegateError as exc:
            left.append(f"{entry['ref']} ({exc})")
            continue
        if undone:
            done.append(undone)
    if left:
        raise ActionError("rollback incomplete — undone: " + (", ".join(done) or "nothing")
                          + "; not undone: " + "; ".join(left))
    return ", ".join(done) or "nothing to undo"


async def _undo(client: KubeClient, entry: dict[str, Any], uid: str | None,
                dry_run: bool) -> str | None:
    """Undo one journal entry; what was done, or None when there was nothing to undo."""
    resource = await client.find_kind(entry["kind"], entry["apiVersion"])
    path = resource.path(entry["namespace"], entry["name"])
    ref = entry["ref"]
    if entry["action"] == "created" or entry["previous"] is None:
        if dry_run:
            await _dry_run_delete(client, path, uid)
            return f"deleted {ref}"
        gone = await apply.delete(client, resource, entry["namespace"], entry["name"], uid=uid)
        if gone.startswith("held by"):
            return (f"{ref} not deleted: the one the phase created (UID {uid}) is gone, the "
                    f"name is now {gone} (made by someone else meanwhile, left as it is)")
        return f"deleted {ref}" + (" (it was already gone)" if gone == "absent" else "")
    if entry["action"] == "updated":
        return await _put_back(client, path, ref, entry["previous"], dry_run)
    return None  # the phase left it unchanged


async def _put_back(client: KubeClient, path: str, ref: str, previous: dict[str, Any],
                    dry_run: bool) -> str:
    """PUT the snapshot back over the live object; on 409 Conflict (someone — often a
    controller — wrote in between) re-read and re-apply, a bounded number of times. A field
    the API refuses to change back (immutable, or only growing) keeps its live value and is
    named. Says what was done."""
    params = {"fieldManager": apply.FIELD_MANAGER, **({"dryRun": "All"} if dry_run else {})}
    uid = previous.get("metadata", {}).get("uid")
    kept: dict[str, str] = {}  # field -> why the live value stays
    attempt = conflicts = 0
    while True:
        attempt += 1
        live = await client.get(path)
        if live is not None and uid and live["metadata"].get("uid") != uid:
            return (f"{ref} not restored: it was deleted and made again by someone else "
                    f"meanwhile (UID {live['metadata'].get('uid')}, was {uid}); left as it is")
        if live is None and snapshot.is_secret_without_values(previous):
            return (f"{ref} not restored: it was deleted meanwhile, and a Secret's values are "
                    "never kept to make it again")
        body, notes = snapshot.body(previous, live)
        for field_path in kept:
            snapshot.keep_live(body, live or {}, field_path)
        method, target = ("POST", path.rsplit("/", 1)[0]) if live is None else ("PUT", path)
        response = await client.request(method, target, params=params, body=body)
        if response.status_code < 400:
            if not dry_run and previous["metadata"].get("managedFields"):
                notes += await _give_back_ownership(client, path, previous, response.json())
            return _restored(ref, live is None, conflicts, notes, kept)
        refused = _refused_fields(response, body, live) if live is not None else {}
        refused = {f: why for f, why in refused.items() if f not in kept}  # else: no progress
        if response.status_code == 422 and refused and len(kept) < MAX_KEPT_FIELDS:
            kept.update(refused)
            continue
        if response.status_code != 409 or conflicts + 1 == CONFLICT_ATTEMPTS:
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            raise ActionError(f"restoring refused{tries}: {status_message(response)}")
        conflicts += 1
        await asyncio.sleep(0.05 * 2 ** conflicts)


async def _give_back_ownership(client: KubeClient, path: str, previous: dict[str, Any],
                               written: dict[str, Any]) -> list[str]:
    """Set managedFields back to the snapshot's (the restoring write made phasegate's update
    the owner of what it put back). Nothing else changes, so no field moves again."""
    live = written
    for _ in range(CONFLICT_ATTEMPTS):
        patch = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"],
                              "managedFields": snapshot.ownership(previous, written, live,
                                                                 apply.FIELD_MANAGER)}}
        response = await client.request("PATCH", path, body=patch,
                                        content_type="application/merge-patch+json")
        if response.status_code < 400:
            return []
        if response.status_code != 409 or (fresh := await client.get(path)) is None:
            break
        live = fresh
    return [f"field ownership not given back ({status_message(response)})"]


MAX_KEPT_FIELDS = 10  # fields left at their live value before a refusal is final


def _refused_fields(response: httpx.Response, body: dict[str, Any],
                    live: dict[str, Any]) -> dict[str, str]:
    """The fields a 422 names that the snapshot would change and the live object can keep
    (each with the API's words); empty when the refusal is about anything else."""
    try:
        causes = (response.json().get("details") or {}).get("causes") or []
    except ValueError:
        return {}
    found: dict[str, str] = {}
    for cause in causes:
        field_path = cause.get("field") or ""
        if not field_path or not snapshot.keep_live(body, live, field_path):
            return {}
        found[field_path] = str(cause.get("message") or cause.get("reason") or "refused")
    return found


def _restored(ref: str, recreated: bool, conflicts: int, notes: list[str],
              kept: dict[str, str]) -> str:
    said = f"re-created {ref} (deleted meanwhile)" if recreated else f"restored {ref}"
    if conflicts:
        said += f" after {conflicts} conflict{'s' * (conflicts > 1)} (re-read, snapshot " \
                "re-applied)"
    notes = [*notes, *(f"{field_path} kept as it is now (the API refuses to change it back: "
                       f"{why})" for field_path, why in kept.items())]
    return said + (" except " + "; ".join(notes) if notes else "")


async def _dry_run_delete(client: KubeClient, path: str, uid: str | None) -> None:
    # DeleteOptions in a body make the API server ignore the query: dryRun goes in the body
    options: dict[str, Any] = {"dryRun": ["All"]}
    if uid:
        options["preconditions"] = {"uid": uid}
    response = await client.request("DELETE", path, params={"dryRun": "All"}, body=options)
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
