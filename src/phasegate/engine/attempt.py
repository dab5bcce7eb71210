"""One attempt of one probe: run its check, time it, and turn any failure to decide into data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from phasegate import secrets
from phasegate.errors import PlanError, ProbeError, TargetError
from phasegate.observation import Observation, Verdict
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import registry
from phasegate.probes.base import ProbeContext


async def run(call: ProbeCall, ctx: ProbeContext, attempt: int = 1) -> Observation:
    spec = registry.get(call.kind)
    started = datetime.now(UTC)
    if spec is None:  # the loader refuses unknown kinds; this guards the Python API
        verdict = Verdict(False, "a known probe", f"unknown probe '{call.kind}'", fail_fast=True)
        return _observation(call, verdict, started, attempt, error=True)
    try:
        verdict = await spec.check(call.params, ctx)
    except (TargetError, PlanError):
        # An unusable target or a malformed file the probe reads (a manifest) is not an
        # observation: the run stops with exit 2 and the located message, as `check` does.
        raise
    except ProbeError as exc:
        verdict = Verdict(
            False, "an answer", f"could not decide: {exc}", fail_fast=not exc.retryable
        )
        return _observation(call, verdict, started, attempt, error=True)
    except Exception as exc:  # a probe bug must still leave evidence, not a lost gate
        verdict = Verdict(
            False, "an answer", f"probe crashed: {type(exc).__name__}: {exc}", fail_fast=True
        )
        return _observation(call, verdict, started, attempt, error=True)
    return _observation(call, verdict, started, attempt)


def _observation(
    call: ProbeCall, verdict: Verdict, started: datetime, attempt: int, *, error: bool = False
) -> Observation:
    generation = secrets.generation()  # before masking: a secret added meanwhile is not covered
    params: Any = secrets.mask_data(call.params_dict)
    observation = Observation(
        probe=call.kind,
        name=secrets.mask(call.name),
        params=params,
        passed=verdict.passed,
        expected=secrets.mask(verdict.expected),
        observed=secrets.mask(verdict.observed),
        detail=secrets.mask(verdict.detail),
        started=started,
        finished=datetime.now(UTC),
        attempt=attempt,
        fail_fast=verdict.fail_fast,
        error=error,
        data=secrets.mask_data(verdict.data),  # type: ignore[arg-type]
    )
    # the store masks whatever it writes; this one is masked already (10,000 probes paid twice)
    secrets.mark_masked(observation, generation)
    return observation


def as_observation(call: ProbeCall, verdict: Verdict, attempt: int) -> Observation:
    """An observation made by the engine itself (for instance: no answer in time)."""
    return _observation(call, verdict, datetime.now(UTC), attempt)
