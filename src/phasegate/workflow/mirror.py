"""``phasegate images mirror``: copy every image a plan needs to the mirror its
``target.imageMirrors`` sends it to, recorded as an action with evidence.

The images are the ones stage R checks (``assumptions.images``, then the tracers' and phases'
manifests). Each copy is one step of the run, with one observation: what was copied, mounted
or already there, by digest. A dry run asks both registries the same questions and writes
nothing, neither to the mirror nor to the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from phasegate.errors import PlanError
from phasegate.observation import Observation
from phasegate.plan.model import Plan
from phasegate.probes.oci import copy, reference, transport
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.workflow import check, stopping

MIRROR = "mirror"  # the stage and kind of the steps this run records
ARTIFACT = "mirrored"
PROBE = "images.mirror"


@dataclass(frozen=True)
class Outcome:
    upstream: str
    mirror: str
    passed: bool
    observed: str
    done: copy.Copy | None = None
    outcome: str = ""  # copied, present, or why it failed (source_not_found, …)


@dataclass
class MirrorResult:
    run_id: str | None  # None for a dry run
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # pulled from where they are

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)


def wanted(plan: Plan) -> tuple[list[check.NeededImage], list[str]]:
    """The images to copy, and those no imageMirrors prefix matches (left where they are)."""
    if not plan.target.image_mirrors:
        raise PlanError("the plan's target names no imageMirrors, so there is no mirror to "
                        "copy its images to; add e.g. target.imageMirrors: {docker.io: "
                        "registry.internal:5000/dockerhub}",
                        file=str(plan.source) if plan.source else None, path="target")
    check.manifests_valid(plan)  # a helm phase needs its chart, values files and helm
    images = check.needed_images(plan, charts_must_render=True)
    for image in images:
        if image.upstream is None:
            raise PlanError(f"assumptions.images: {image.written!r} is not an image reference",
                            file=str(plan.source) if plan.source else None,
                            path="assumptions.images")
    return ([i for i in images if i.mirrored],
            [i.written for i in images if not i.mirrored])


async def mirror(
    plan: Plan, store: EvidenceStore, *, dry_run: bool = False, auth_file: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> MirrorResult:
    todo, unmapped = wanted(plan)
    say = on_progress or (lambda _: None)

    def targets(registry: str) -> transport.Target:
        return transport.Target(registry, auth_file=auth_file, timeout=60.0)

    run_id = None if dry_run else store.start_run(
        "images mirror", plan_name=plan.metadata.name,
        plan_path=str(plan.source) if plan.source else None, plan_hash=plan.content_hash)
    result = MirrorResult(run_id, dry_run, unmapped=unmapped)
    try:
        for index, image in enumerate(todo, 1):
            assert image.upstream is not None and image.mirror is not None
            say(f"[{index}/{len(todo)}] {image.upstream} → {image.mirror}")
            result.outcomes.append(await _one(store, run_id, image.upstream, image.mirror,
                                              targets, dry_run, say))
    except BaseException as exc:
        if run_id is not None:
            store.finish_run(run_id, stopping.status_of(exc), stopping.summary_of(exc, run_id))
        raise
    if run_id is not None:
        store.add_artifact(run_id, ARTIFACT, json.dumps(
            [{"upstream": o.upstream, "mirror": o.mirror, "outcome": o.outcome,
              **(o.done.to_dict() if o.done else {"error": o.observed})}
             for o in result.outcomes]), "application/json")
        store.finish_run(run_id, "passed" if result.passed else "failed", summary(result))
    return result


async def _one(
    store: EvidenceStore, run_id: str | None, upstream: reference.Reference,
    mirror: reference.Reference, targets: Callable[[str], transport.Target], dry_run: bool,
    say: Callable[[str], None],
) -> Outcome:
    step = None if run_id is None else store.start_step(
        run_id, MIRROR, f"mirror {upstream} → {mirror}", place=records.StepPlace(MIRROR))
    started = datetime.now(UTC)
    try:
        with stopping.closed_on_stop(store, step) if step is not None else nullcontext():
            done = await copy.copy(upstream, mirror, targets=targets, dry_run=dry_run,
                                   progress=lambda text: say(f"  {text}"))
    except copy.CopyFailure as failure:
        outcome = Outcome(str(upstream), str(mirror), False, str(failure),
                          outcome=failure.outcome)
        detail = failure.detail
    else:
        outcome = Outcome(str(upstream), str(mirror), True, _described(done, dry_run), done,
                          "copied" if done.changed else "present")
        detail = ""
    say(f"  {outcome.observed}")
    if run_id is not None and step is not None:
        data = {"upstream": outcome.upstream, "mirror": outcome.mirror,
                "outcome": outcome.outcome, **(outcome.done.to_dict() if outcome.done else {})}
        store.record(run_id, step, Observation(
            PROBE, f"mirror {upstream}", {"source": str(upstream), "destination": str(mirror)},
            outcome.passed, f"{mirror} holds {upstream}, digests kept", outcome.observed,
            detail, started, datetime.now(UTC), 1, data=data))
        store.finish_step(step, "passed" if outcome.passed else "failed", outcome.observed)
    return outcome


def _described(done: copy.Copy, dry_run: bool) -> str:
    if not done.changed:
        return f"already there: {done.digest}"
    verb = "would copy" if dry_run else "copied"
    said = (f"{verb} {len(done.manifests_copied)} manifest(s), {len(done.blobs_copied)} "
            f"blob(s) ({copy.size_text(done.bytes_copied)})")
    if done.blobs_mounted:
        said += f", mounted {len(done.blobs_mounted)} blob(s)"
    if done.blobs_present or done.manifests_present:
        said += (f"; already there: {len(done.manifests_present)} manifest(s), "
                 f"{len(done.blobs_present)} blob(s)")
    if done.tagged and not done.manifests_copied:
        said += f"; tag {'would point' if dry_run else 'pointed'} at it"
    return f"{said} → {done.digest}"


def summary(result: MirrorResult) -> str:
    copied = sum(1 for o in result.outcomes if o.outcome == "copied")
    present = sum(1 for o in result.outcomes if o.outcome == "present")
    failed = [o for o in result.outcomes if not o.passed]
    said = (f"{copied} image(s) {'to copy' if result.dry_run else 'copied'}, "
            f"{present} already in the mirror")
    if failed:
        said += f", {len(failed)} failed — " + "; ".join(
            f"{o.upstream}: {o.observed}" for o in failed[:5])
    if result.unmapped:
        said += f"; {len(result.unmapped)} not mirrored (no imageMirrors prefix matches)"
    return said
