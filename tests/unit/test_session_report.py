"""Session reports and retrospectives tell the current truth: latest causes, one
recommendation per signature, counts that cannot be misread, checks told apart by more than
their name (pure logic over recorded records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phasegate.observation import Observation
from phasegate.reports import session
from phasegate.store.records import RunBundle, RunRecord, StepRecord

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def seen(probe: str, name: str, passed: bool, observed: str, at: datetime,
         fail_fast: bool = False, attempt: int = 1) -> Observation:
    return Observation(probe, name, {"ref": name}, passed, "found", observed, "", at, at,
                       attempt, fail_fast=fail_fast)


def verify_run(n: int, at: datetime, steps: dict[str, list[Observation]]) -> RunBundle:
    run = RunRecord(f"20261123-1000{n:02d}-abcdef", "tasks verify", "TASK-1", None, None,
                    "failed", at, at + timedelta(seconds=5), "")
    records = tuple(
        StepRecord(i, "task", name, "passed" if all(o.passed for o in obs) else "failed", at,
                   at + timedelta(seconds=1), None, "", tuple(obs))
        for i, (name, obs) in enumerate(steps.items(), start=1))
    return RunBundle(run, records, ())


def report(bundles: list[RunBundle]) -> dict[str, object]:
    return session.collect(bundles, T0 - timedelta(hours=1), T0 + timedelta(hours=2))


def test_an_open_issue_tells_its_latest_cause_with_the_first_as_history() -> None:
    tls = "could not decide: certificate verify failed: unable to get local issuer"
    later = T0 + timedelta(minutes=30)
    facts = report([
        verify_run(1, T0, {"criterion 1: api image": [seen("image", "api", False, tls, T0)]}),
        verify_run(2, later, {"criterion 1: api image": [
            seen("image", "api", False, "tag not found: 1.4.3 in shop/api", later)]}),
    ])
    (issue,) = facts["critical_issues"]  # type: ignore[misc]
    assert issue["observed"] == "tag not found: 1.4.3 in shop/api"
    assert issue["signature"] == "image/tag-not-found" and issue["resolved"] is None
    assert issue["first_observed"] == tls and issue["recurrences"] == 1
    assert [h["observed"] for h in issue["history"]] == [tls, issue["observed"]]
    text = session.markdown(facts)
    assert "`api`: tag not found: 1.4.3 in shop/api" in text
    assert "causes over time:" in text


def test_one_recommendation_per_signature_with_its_count() -> None:
    steps = {f"criterion {n}: image {n}": [seen("image", f"img{n}", False,
                                                 f"tag not found: {n} in shop/x", T0)]
             for n in (1, 2, 3)}
    facts = report([verify_run(1, T0, steps)])
    (entry,) = facts["recommendations"]  # type: ignore[misc]
    assert entry["issues"] == 3 and entry["open"] == 3
    assert entry["signatures"] == ["image/tag-not-found"]
    text = session.markdown(facts)
    assert text.count(entry["recommendation"]) == 1
    assert "(3 issues, 3 open; `image/tag-not-found`)" in text


def test_gate_counts_cannot_be_read_as_everything_failed() -> None:
    steps = {"criterion 1: api": [seen("image", "api", False, "tag not found: 1", T0)]}
    fixed = {"criterion 1: api": [seen("image", "api", True, "found sha256:ab", T0)]}
    bundles = [verify_run(1, T0, steps)] + [
        verify_run(n, T0 + timedelta(minutes=n), fixed) for n in (2, 3)]
    facts = report(bundles)
    metrics = facts["metrics"]
    assert (metrics["gates"], metrics["gates_passed"], metrics["gates_failed"],  # type: ignore
            metrics["gates_passed_first_time"]) == (3, 2, 1, 0)  # type: ignore[index]
    summary = " ".join(facts["summary"])  # type: ignore[arg-type]
    assert "Gates: 3 evaluations, 2 passed, 1 failed; 0 of the 2 passes came without an " \
           "earlier failure of the same gate" in summary
    assert "0 of 3" not in session.markdown(facts)


def test_a_check_cut_short_by_a_fail_fast_one_is_no_issue() -> None:
    facts = report([verify_run(1, T0, {"phase 1 · gate": [
        seen("k8s.rollout", "Deployment/api", False, "1 of 3 replicas updated", T0),
        seen("image", "api", False, "tag not found: 1.4.3", T0, fail_fast=True)]})])
    assert [i["observed"] for i in facts["critical_issues"]] == [  # type: ignore[attr-defined]
        "tag not found: 1.4.3"]


def test_a_gate_that_timed_out_on_progress_is_signed_as_a_timeout() -> None:
    from phasegate.reports import patterns
    from phasegate.store.records import FailureRecord

    bundle = verify_run(1, T0, {"phase 1 · gate": [
        seen("k8s.rollout", "Deployment/api", False, "1 of 3 replicas updated", T0)]})
    step = bundle.steps[0]
    timed_out = RunBundle(bundle.run, (StepRecord(step.id, "I", step.name, "timed out",
                                                  step.started, step.finished, 60.0, "",
                                                  step.observations),), ())
    (issue,) = report([timed_out])["critical_issues"]  # type: ignore[misc]
    assert issue["signature"] == "k8s.rollout/timed-out"
    assert issue["observed"] == "1 of 3 replicas updated"  # where it stood is still told
    failure = FailureRecord(bundle.run, "I", step.name, "timed out", step.observations[0], "",
                            T0)
    (found,) = patterns.occurrences([failure])
    assert found.key == "k8s.rollout/timed-out"


def test_a_retro_does_not_let_one_twin_check_resolve_the_other() -> None:
    from phasegate.reports import retro

    twins = [Observation("file", "values.yaml", {"markers": [m]}, passed, "", observed, "", T0,
                         T0, 1) for m, passed, observed in (
        ("image:", False, "marker 'image:' missing"), ("replicas:", True, "all present"))]
    run = RunRecord("20261123-100001-abcdef", "check", "twins", None, None, "failed", T0,
                    T0 + timedelta(seconds=1), "")
    step = StepRecord(1, "R", "reality check", "failed", T0, T0, None, "", tuple(twins))
    facts = retro.collect(RunBundle(run, (step,), ()))
    assert facts["time_lost"] == []  # the failing twin was never fixed
    assert [f["observed"] for f in facts["failures"]] == ["marker 'image:' missing"]
