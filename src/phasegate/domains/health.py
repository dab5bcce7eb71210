"""Evaluating domains: each health probe asked through the probe machinery, concurrently,
its answers rolled up by policy and dependency, and what changed since the store's last
record written to it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from phasegate.domains import graph, history, queries, rollup
from phasegate.domains.model import DomainsFile
from phasegate.domains.records import DomainState, ProbeState, ProbeStateName
from phasegate.engine import attempt
from phasegate.observation import Observation, Verdict
from phasegate.plan.probe_call import ProbeCall
from phasegate.probes import http_clients
from phasegate.probes.base import ProbeContext
from phasegate.store.evidence import EvidenceStore

ATTEMPT_LIMIT = 60.0  # an attempt with no answer by then is unknown, not a stalled domain
CONCURRENCY = 128  # probes asked at once: 500 at once opened 500 sockets for no gain


@dataclass(frozen=True)
class Check:
    """One health probe of one domain, with the key its answers are kept under."""

    domain: str
    index: int
    key: str  # its name, made unique within the domain
    call: ProbeCall
    interval: float


def checks(domains: DomainsFile, names: Sequence[str]) -> list[Check]:
    found = []
    for name in names:
        seen: dict[str, int] = {}
        for index, call in enumerate(domains.domains[name].health):
            seen[call.name] = seen.get(call.name, 0) + 1
            key = call.name if seen[call.name] == 1 else f"{call.name} [{index}]"
            found.append(Check(name, index, key, call, domains.interval_of(name, index)))
    return found


def selected(domains: DomainsFile, only: Sequence[str] | None) -> list[str]:
    """The domains to evaluate: ``only`` and what they depend on (their state needs it)."""
    edges = {name: d.depends_on for name, d in domains.domains.items()}
    return graph.needed_by(edges, list(only)) if only else graph.order(edges)


def answer(observation: Observation) -> ProbeStateName:
    if observation.error:
        return "unknown"
    return "passing" if observation.passed else "failing"


async def ask(check: Check, ctx: ProbeContext, limit: float = ATTEMPT_LIMIT) -> Observation:
    try:
        async with asyncio.timeout(limit):  # no task of its own, as wait_for makes per call
            return await attempt.run(check.call, ctx)
    except TimeoutError:
        verdict = Verdict(False, "an answer", f"no answer within {limit:g} s")
        return dataclasses.replace(attempt.as_observation(check.call, verdict, 1), error=True)


async def ask_all(found: Sequence[Check], contexts: dict[str, ProbeContext],
                  limit: float = ATTEMPT_LIMIT) -> list[Observation]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(check: Check) -> Observation:
        async with gate:
            return await ask(check, contexts[check.domain], limit)

    return list(await asyncio.gather(*(one(check) for check in found)))


def states(domains: DomainsFile, names: Sequence[str], found: Sequence[Check],
           observations: dict[tuple[str, int], Observation]) -> dict[str, DomainState]:
    """Every domain's state from its probes' latest observations (their plain data is
    attached to the states that change: see ``Recorder.changes``)."""
    now = datetime.now(UTC)
    per_domain: dict[str, list[Observation]] = {name: [] for name in names}
    for check in found:
        seen = observations.get((check.domain, check.index))
        if seen is not None:
            per_domain[check.domain].append(seen)
    rolled = rollup.roll_up(
        {name: domains.domains[name].policy for name in names},
        {name: domains.domains[name].depends_on for name in names},
        {name: [answer(o) for o in seen] for name, seen in per_domain.items()})
    return {name: DomainState(name, r.state, r.own_state, r.cause, r.passing, r.total,
                              r.reason, now) for name, r in rolled.items()}


def _observed(state: DomainState, found: Sequence[Check],
              observations: dict[tuple[str, int], Observation]) -> DomainState:
    """``state`` with its probes' observations as plain data: built only for a change (500
    observations copied out at every roll-up were most of a quiet --watch loop's work)."""
    mine = (observations.get((c.domain, c.index)) for c in found if c.domain == state.domain)
    return dataclasses.replace(state, observations=tuple(plain(o) for o in mine if o))


def plain(observation: Observation) -> dict[str, Any]:
    """``Observation.to_dict`` without its deep copy (dataclasses.asdict: a third of a
    500-probe evaluation): what it holds is written out as JSON at once, never changed."""
    record = {f.name: getattr(observation, f.name) for f in _FIELDS}
    record["started"] = observation.started.isoformat()
    record["finished"] = observation.finished.isoformat()
    record["duration"] = round(observation.duration, 6)
    return record


_FIELDS = dataclasses.fields(Observation)


class Recorder:
    """What changed since the store's last record, written to it: one row per domain whose
    state (or cause) changed, one per probe whose answer changed."""

    def __init__(self, store: EvidenceStore, names: Sequence[str]) -> None:
        self.store = store
        self.domains = queries.current(store, names)
        self.probes: dict[tuple[str, str], str] = {}
        for name in names:
            for key, known in queries.current_probes(store, name).items():
                self.probes[(name, key)] = known.state

    def changes(self, now: dict[str, DomainState], found: Sequence[Check],
                observations: dict[tuple[str, int], Observation]
                ) -> tuple[list[DomainState], list[ProbeState]]:
        changed = [_observed(state, found, observations) for name, state in now.items()
                   if (known := self.domains.get(name)) is None
                   or (known.state, known.cause, known.own_state)
                   != (state.state, state.cause, state.own_state)]
        probes = []
        for check in found:
            seen = observations.get((check.domain, check.index))
            if seen is not None and self.probes.get((check.domain, check.key)) != answer(seen):
                probes.append(ProbeState(check.domain, check.key, answer(seen), seen.finished,
                                         plain(seen)))
        return changed, probes

    def record(self, changed: Sequence[DomainState], probes: Sequence[ProbeState]) -> None:
        history.record_changes(self.store, changed, probes)
        for state in changed:
            self.domains[state.domain] = state
        for probe in probes:
            self.probes[(probe.domain, probe.probe)] = probe.state

    def since(self, name: str) -> datetime | None:
        known = self.domains.get(name)
        return known.at if known else None


def contexts(domains: DomainsFile, names: Sequence[str],
             base: ProbeContext) -> dict[str, ProbeContext]:
    """Each domain's probe context: its own namespace for its Kubernetes probes, if it names
    one (the client is per context, so this costs no connection)."""
    from phasegate.kube import connections

    found = {}
    kube = base.extras.get("kube")
    for name in names:
        namespace = domains.domains[name].namespace
        if namespace and isinstance(kube, connections.KubeTarget):
            extras = {**base.extras, "kube": dataclasses.replace(kube, namespace=namespace)}
            found[name] = dataclasses.replace(base, extras=extras)
        else:
            found[name] = base
    return found


@dataclass(frozen=True)
class Evaluation:
    """Every selected domain's state now, the observations behind them, and since when
    each state holds (its first record in the store: now, if it just changed)."""

    states: dict[str, DomainState]
    observations: dict[tuple[str, int], Observation]
    checks: tuple[Check, ...]
    since: dict[str, datetime]
    changed: tuple[str, ...]
    duration: float

    def healthy(self, only: Sequence[str] | None) -> bool:
        return all(self.states[name].state == "healthy" for name in (only or self.states))


async def evaluate_once(domains: DomainsFile, only: Sequence[str] | None,
                        store: EvidenceStore, *, context: str | None = None,
                        kubeconfig: str | None = None) -> Evaluation:
    """Ask every probe of the selected domains once, concurrently; record what changed."""
    import time

    from phasegate.workflow import target

    started = time.monotonic()
    names = selected(domains, only)
    found = checks(domains, names)
    try:
        resolved = await target.resolve(domains.target, domains.base_dir,
                                        [c.call for c in found], context=context,
                                        kubeconfig=kubeconfig)
        per_domain = contexts(domains, names, resolved.context)
        async with http_clients.pooled():  # an http client per TLS setting, not per probe
            answers = await ask_all(found, per_domain)
    finally:
        await target.release()
    observations = {(c.domain, c.index): o for c, o in zip(found, answers, strict=True)}
    now = states(domains, names, found, observations)
    recorder = Recorder(store, names)
    changed, probes = recorder.changes(now, found, observations)
    recorder.record(changed, probes)
    since = {name: recorder.since(name) or now[name].at for name in names}
    return Evaluation(now, observations, tuple(found), since,
                      tuple(s.domain for s in changed), time.monotonic() - started)


def document(result: Evaluation, name: str) -> dict[str, Any]:
    """One domain's state and the probes behind it: ``health --json``'s entries, and the MCP
    server's ``health`` tool's."""
    state = result.states[name]
    probes = [{"name": c.key, "state": answer(result.observations[(c.domain, c.index)]),
               "interval": c.interval,
               "observation": plain(result.observations[(c.domain, c.index)])}
              for c in result.checks if c.domain == name]
    return {"name": name, "state": state.state, "own_state": state.own_state,
            "cause": state.cause, "since": result.since[name].isoformat(),
            "passing": state.passing, "total": state.total, "reason": state.reason,
            "probes": probes}
