"""Running a loaded suite against a cluster, into one recorded run: a step per test's
setup (its namespace) and per suite step (their names and order as kuttl reports them),
tests in parallel as the suite allows, each test's namespace deleted afterwards unless
``skipDelete``."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets as tokens
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from phasegate import secrets
from phasegate.engine import gate
from phasegate.errors import ActionError
from phasegate.kube import connections
from phasegate.kube.connections import KubeTarget
from phasegate.observation import Observation
from phasegate.plan import probe_call
from phasegate.plan.model import Target
from phasegate.probes import expressions, subset
from phasegate.probes.base import ProbeContext
from phasegate.store import records
from phasegate.store.evidence import EvidenceStore
from phasegate.suites import (
    chainsaw_language,
    chainsaw_ops,
    commands,
    kube_ops,
    kubeconfig_file,
    model,
    steps,
)
from phasegate.workflow import stopping, target

STAGE = "suite"
SKIPPED = "skipped"
SETUP, STEP, TEARDOWN = "suite-setup", "suite-step", "suite-teardown"


@dataclass(frozen=True)
class StepVerdict:
    test: str  # the test's path, e.g. suite1/test0; empty for the suite's own setup
    step: str  # "setup", "step 0-run"
    passed: bool
    message: str = ""
    skipped: bool = False  # a test not run: it uses what phasegate does not support
    asked: bool = False  # ... or it says not to run it (Chainsaw's spec.skip)


@dataclass(frozen=True)
class SuiteResult:
    run_id: str
    steps: tuple[StepVerdict, ...]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps)

    def not_run(self) -> list[str]:
        """The tests not run because they use what phasegate does not support."""
        return [step.test for step in self.steps if step.skipped and not step.asked]

    def skipped(self) -> list[str]:
        """The tests that say not to run them."""
        return [step.test for step in self.steps if step.asked]

    def tests(self) -> dict[str, bool]:
        verdicts: dict[str, bool] = {}
        for step in self.steps:
            if step.test and not step.skipped:
                verdicts[step.test] = verdicts.get(step.test, True) and step.passed
        return verdicts


@dataclass(frozen=True)
class _Run:
    suite: model.Suite
    store: EvidenceStore
    run_id: str
    ctx: ProbeContext
    kubeconfig: str
    on_step: Callable[[StepVerdict], None] | None


async def run(suite: model.Suite, store: EvidenceStore, *, context: str | None,
              kubeconfig: str | None,
              on_step: Callable[[StepVerdict], None] | None = None) -> SuiteResult:
    _register_secrets(suite)
    try:
        resolved = await target.resolve(Target(), suite.root, [], context=context,
                                        kubeconfig=kubeconfig, needs_kube=True)
        kube = resolved.context.extras["kube"]
        assert isinstance(kube, KubeTarget)
        meta = {"format": suite.format, "tests": len(suite.tests),
                "unsupported": [str(n) for n in suite.notes],
                **({"cluster": resolved.identity} if resolved.identity else {})}
        run_id = store.start_run(STAGE, plan_name=suite.name, plan_path=str(suite.root),
                                 meta=meta)
        file = kubeconfig_file.write(kube.kubeconfig, kube.context)
        try:
            job = _Run(suite, store, run_id, resolved.context, str(file), on_step)
            verdicts = await _everything(job)
        except BaseException as exc:
            store.finish_run(run_id, stopping.status_of(exc), stopping.summary_of(exc, run_id))
            raise
        finally:
            kubeconfig_file.remove(file)
    finally:
        await target.release()
    result = SuiteResult(run_id, tuple(verdicts))
    tests = result.tests()
    passed = sum(1 for ok in tests.values() if ok)
    unsupported, asked = len(result.not_run()), len(result.skipped())
    store.finish_run(run_id, "passed" if result.passed else "failed",
                     f"{passed}/{len(tests)} tests passed"
                     + (f"; {unsupported} not run (unsupported)" if unsupported else "")
                     + (f"; {asked} skipped (skip: true)" if asked else ""))
    return result


async def _everything(job: _Run) -> list[StepVerdict]:
    suite = job.suite
    before: list[StepVerdict] = []
    if suite.crds or suite.manifests or suite.commands:
        before.append(await _suite_setup(job))
        if not before[0].passed:
            return before
    limit = asyncio.Semaphore(max(suite.parallel, 1))

    async def one(test: model.Test) -> list[StepVerdict]:
        if test.skip:
            return [_not_run(job, test, "skipped: the test says skip: true", asked=True)]
        if test.unsupported:
            message = "not run: uses what phasegate does not support: " + "; ".join(
                test.unsupported)
            return [_not_run(job, test, message)]
        async with limit:
            return await _test(job, test)

    found = await asyncio.gather(*(one(test) for test in suite.tests))
    return before + [verdict for verdicts in found for verdict in verdicts]


async def _suite_setup(job: _Run) -> StepVerdict:
    suite = job.suite
    step = model.Step(index=-1, name="setup", files=(), apply=(*suite.crds, *suite.manifests),
                      commands=suite.commands, timeout=suite.timeout)
    namespace = "default"
    ctx = _scoped(job.ctx, namespace, job.suite.root)
    shell = commands.Shell(job.kubeconfig, namespace, commands.search_path())
    place = records.StepPlace(SETUP)
    step_id = job.store.start_step(job.run_id, STAGE, "suite setup", suite.timeout, place)
    with stopping.closed_on_stop(job.store, step_id):
        outcome = await steps.run(step, ctx, shell, _recorder(job, step_id))
        if outcome.passed and suite.crds:  # kuttl waits for its CRDs before any test
            calls = [probe_call.build({"k8s.condition": {
                "kind": "CustomResourceDefinition", "name": crd["metadata"]["name"],
                "condition": "Established"}}) for crd in suite.crds]
            result = await gate.evaluate(calls, ctx, suite.timeout,
                                         on_observations=_recorder(job, step_id))
            if not result.passed:
                outcome.fail("CRDs not established: " + ", ".join(
                    f.name for f in result.finals if not f.passed))
    return _finish(job, step_id, "", "suite setup", outcome)


async def _test(job: _Run, test: model.Test) -> list[StepVerdict]:
    suite = job.suite
    prefix = "chainsaw" if suite.format == "chainsaw" else "kuttl-test"
    template = test.namespace_template or {}
    namespace = str(test.namespace or (template.get("metadata") or {}).get("name")
                    or suite.namespace or f"{prefix}-{tokens.token_hex(5)}")
    ctx = _scoped(job.ctx, namespace, test.directory)
    shell = commands.Shell(job.kubeconfig, namespace, commands.search_path())
    verdicts = []
    setup_id = job.store.start_step(job.run_id, STAGE, "setup", suite.timeout,
                                    records.StepPlace(SETUP, phase=test.path))
    with stopping.closed_on_stop(job.store, setup_id):
        created, outcome = await _namespace(job, ctx, namespace, setup_id, template)
        bindings = await _bindings(test, ctx, namespace, outcome, suite.values) if (
            suite.format == "chainsaw" and outcome.passed) else {}
    verdicts.append(_finish(job, setup_id, test.path, "setup", outcome))
    cleanup: list[kube_ops.Done] = []
    try:
        for step in test.steps if outcome.passed else ():
            step_id = job.store.start_step(job.run_id, STAGE, step.title, step.timeout,
                                           records.StepPlace(STEP, phase=test.path,
                                                             phase_index=step.index))
            with stopping.closed_on_stop(job.store, step_id):
                if suite.format == "chainsaw":
                    outcome = await chainsaw_ops.run(step, ctx, shell, _recorder(job, step_id),
                                                     test, bindings)
                else:
                    outcome = await steps.run(step, ctx, shell, _recorder(job, step_id))
            cleanup.extend(outcome.created)
            verdicts.append(_finish(job, step_id, test.path, step.title, outcome))
            if not outcome.passed:
                break  # kuttl ends a test at its first failing step
    finally:
        if not suite.skip_delete:
            await _teardown(job, ctx, test, namespace if created else None, cleanup)
    return verdicts


async def _bindings(test: model.Test, ctx: ProbeContext, namespace: str,
                    outcome: steps.Outcome, values: model.Json | None
                    ) -> chainsaw_language.Bindings:
    """A Chainsaw test's bindings: Chainsaw's own, then the test's."""
    try:
        return await chainsaw_language.bind(
            ctx, chainsaw_language.builtins(test, namespace, values), test.bindings)
    except expressions.ExpressionError as exc:
        outcome.fail(f"test bindings: {exc}")
        return {}


async def _namespace(job: _Run, ctx: ProbeContext, namespace: str, step_id: int,
                     template: model.Json) -> tuple[bool, steps.Outcome]:
    """The test's namespace, made unless it exists (``template``: with the fields of
    Chainsaw's namespaceTemplate), and its default ServiceAccount (pods are refused until
    the controller has made it)."""
    outcome = steps.Outcome()
    client = connections.client_for(ctx)
    record = _recorder(job, step_id)
    started = datetime.now(UTC)
    created = False
    try:
        if not await kube_ops.namespace_exists(client, namespace):
            await kube_ops.create_namespace(client, namespace, template)
            created = True
        record([steps.action("suite.namespace", f"Namespace {namespace}", True, "exists",
                             "created" if created else "exists already", started)])
    except ActionError as exc:
        record([steps.action("suite.namespace", f"Namespace {namespace}", False, "exists",
                             str(exc), started)])
        outcome.fail(str(exc))
        return created, outcome
    account = probe_call.build({"k8s.exists": {"kind": "ServiceAccount", "name": "default",
                                               "namespace": namespace}})
    result = await gate.evaluate([account], ctx, job.suite.timeout, on_observations=record)
    if not result.passed:
        outcome.fail(f"{account.name}: {result.finals[0].observed}")
    return created, outcome


async def _teardown(job: _Run, ctx: ProbeContext, test: model.Test, namespace: str | None,
                    cleanup: list[kube_ops.Done]) -> None:
    if namespace is not None:  # deleting the namespace deletes what the test made in it
        cleanup = [done for done in cleanup
                   if done.live.get("metadata", {}).get("namespace") != namespace]
    if namespace is None and not cleanup:
        return
    client = connections.client_for(ctx)
    step_id = job.store.start_step(job.run_id, STAGE, "teardown", None,
                                   records.StepPlace(TEARDOWN, phase=test.path))
    record = _recorder(job, step_id)
    outcome = steps.Outcome()
    for done in reversed(cleanup):  # what the test made outside its namespace
        started = datetime.now(UTC)
        try:
            said = await kube_ops.delete(client, done.resource, done.live)
            record([steps.action("suite.delete", done.ref, True, "deleted", said, started)])
        except ActionError as exc:
            record([steps.action("suite.delete", done.ref, False, "deleted", str(exc), started)])
            outcome.fail(str(exc))
    if namespace is not None:
        started = datetime.now(UTC)
        try:
            said = await kube_ops.delete_namespace(client, namespace)
            # not waited for, as kuttl does not: the namespace controller finishes it
            record([steps.action("suite.delete", f"Namespace {namespace}", True, "deleted",
                                 said, started)])
        except ActionError as exc:
            record([steps.action("suite.delete", f"Namespace {namespace}", False, "deleted",
                                 str(exc), started)])
            outcome.fail(str(exc))
    job.store.finish_step(step_id, "passed" if outcome.passed else "failed",
                          "; ".join(outcome.failures))


def _register_secrets(suite: model.Suite) -> None:
    """The values of the Secrets a suite applies or asserts are masked wherever text is
    kept or shown (a command that prints one, a collector's output)."""
    held = [*suite.crds, *suite.manifests, *(obj for test in suite.tests for step in test.steps
                                            for obj in (*step.apply, *step.asserts,
                                                        *step.errors))]
    held += [obj for test in suite.tests for step in test.steps  # Chainsaw's operations
             for operation in (*step.operations, *step.catch, *step.finally_, *step.cleanup)
             for obj in operation.objects]
    for obj in held:
        for value in subset.secret_values(obj):
            secrets.register(value)


def _not_run(job: _Run, test: model.Test, message: str, asked: bool = False) -> StepVerdict:
    """A test using what phasegate does not do is not run: it is recorded as skipped, with
    what it uses, so that no guess passes for a verdict; so is one that asks to be."""
    step_id = job.store.start_step(job.run_id, STAGE, "not run", None,
                                   records.StepPlace(SETUP, phase=test.path))
    job.store.finish_step(step_id, SKIPPED, message)
    verdict = StepVerdict(test.path, "not run", True, message, skipped=True, asked=asked)
    if job.on_step is not None:
        job.on_step(verdict)
    return verdict


def _finish(job: _Run, step_id: int, test: str, name: str, outcome: steps.Outcome
            ) -> StepVerdict:
    message = "; ".join(outcome.failures)
    job.store.finish_step(step_id, "passed" if outcome.passed else "failed", message)
    verdict = StepVerdict(test, name, outcome.passed, message)
    if job.on_step is not None:
        job.on_step(verdict)
    return verdict


def _recorder(job: _Run, step_id: int) -> Callable[[Sequence[Observation]], None]:
    def record(observations: Sequence[Observation]) -> None:
        job.store.record_many(job.run_id, step_id, observations)

    return record


def _scoped(ctx: ProbeContext, namespace: str, directory: Path) -> ProbeContext:
    kube = ctx.extras["kube"]
    assert isinstance(kube, KubeTarget)
    return dataclasses.replace(
        ctx, base_dir=directory,
        extras={**ctx.extras, "kube": dataclasses.replace(kube, namespace=namespace)})
