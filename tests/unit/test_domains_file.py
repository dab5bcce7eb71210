"""domains.yaml: the model, located errors like plans, dependency cycles, and roll-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.domains import graph, loader, rollup
from phasegate.domains.model import DegradedBelow, Quorum
from phasegate.errors import PlanError

HEADER = "apiVersion: phasegate/v1\nkind: Domains\n"


def error_of(text: str) -> PlanError:
    with pytest.raises(PlanError) as caught:
        loader.loads_domains(HEADER + text, filename="domains.yaml")
    return caught.value


def test_a_domains_file_loads_with_probes_intervals_and_policies(tmp_path: Path) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(HEADER + """\
target: {context: sandbox, namespace: shop}
interval: 1m
domains:
  identity:
    owner: team-identity
    paths: services/identity/**
    plans: [plans/identity.yaml]
    health:
      - http: {url: "http://127.0.0.1:8080/health"}
        interval: 5s
      - tcp: {host: 127.0.0.1, port: 5432}
    policy: {quorum: 1}
  payments:
    interval: 20s
    depends_on: identity
    health:
      - k8s.rollout: {kind: Deployment, name: api}
    policy: all
""")
    loaded = loader.load_domains(path)
    identity, payments = loaded.domains["identity"], loaded.domains["payments"]
    assert identity.owner == "team-identity"
    assert identity.paths == ["services/identity/**"]
    assert identity.policy == Quorum(quorum=1)
    assert [call.kind for call in identity.health] == ["http", "tcp"]
    assert payments.depends_on == ["identity"]
    assert payments.policy == "all"
    # each probe's interval: its own, else its domain's, else the file's
    assert [loaded.interval_of("identity", i) for i in range(2)] == [5.0, 60.0]
    assert loaded.interval_of("payments", 0) == 20.0
    assert loaded.plan_paths("identity") == [(tmp_path / "plans/identity.yaml").resolve()]
    assert loaded.target.context == "sandbox"


@pytest.mark.parametrize(("text", "where", "message"), [
    ("domains:\n  a:\n    healht: []\n", "domains.yaml:5:5: domains.a.healht",
     "unknown field 'healht' — did you mean 'health'?"),
    ("domains:\n  a:\n    health:\n      - htp: {url: x}\n",
     "domains.yaml:6:9: domains.a.health[0]",
     "unknown probe 'htp' — did you mean 'http'?"),
    ("domains:\n  a:\n    health:\n      - tcp: {host: h, port: many}\n",
     "domains.yaml:6:30: domains.a.health[0].tcp.port", "integer"),
    ("domains:\n  a:\n    health:\n      - tcp: {host: h, port: 1}\n        interval: soon\n",
     "domains.yaml:7:19: domains.a.health[0].interval", "expected a duration"),
    ("domains:\n  a: {policy: most}\n", "domains.yaml:4:15: domains.a.policy",
     "expected a policy: all, {quorum: N} or {degraded_below: N}"),
    ("domains:\n  a: {policy: {quorom: 2}}\n", "domains.yaml:4:15: domains.a.policy",
     "expected a policy"),
    ("domains:\n  a:\n    policy: {quorum: 2}\n    health: [{tcp: {host: h, port: 1}}]\n",
     "domains.yaml:5:13: domains.a.policy",
     "the policy needs 2 passing probes but the domain has 1 health probe"),
    ("domains:\n  Payments: {}\n", "domains.yaml:4:3: domains.Payments",
     "domain name 'Payments' must be lowercase"),
    ("domains:\n  a: {depends_on: [identty]}\n  identity: {}\n",
     "domains.yaml:4:20: domains.a.depends_on[0]",
     "unknown domain 'identty' — did you mean 'identity'?"),
    ("domains:\n  a: {depends_on: a}\n", "domains.yaml:4:19: domains.a.depends_on",
     "domain 'a' depends on itself"),
    ("domains:\n  a: {}\n  a: {}\n", "domains.yaml:5:3", "duplicate key"),
    ("domains: [a, b]\n", "domains.yaml:3:10: domains", "valid dictionary"),
])
def test_errors_name_file_line_column_and_path(text: str, where: str, message: str) -> None:
    error = str(error_of(text))
    assert error.startswith(where), error
    assert message in error, error


def test_a_dependency_cycle_is_named_whole() -> None:
    error = error_of("domains:\n  a: {depends_on: [b]}\n  b: {depends_on: [c]}\n"
                     "  c: {depends_on: [a]}\n")
    assert str(error) == ("domains.yaml:4:19: domains.a.depends_on: dependency cycle: "
                          "a → b → c → a")


def test_a_plan_is_not_a_domains_file() -> None:
    with pytest.raises(PlanError) as caught:
        loader.loads_domains("apiVersion: phasegate/v1\nkind: Plan\n", filename="d.yaml")
    assert str(caught.value).startswith("d.yaml:2:7: kind: Input should be 'Domains'")


def test_a_missing_or_empty_file_is_one_located_paragraph(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="domains file not found"):
        loader.load_domains(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(PlanError, match="the file is empty"):
        loader.load_domains(tmp_path / "empty.yaml")


def test_dependencies_come_first_in_the_order() -> None:
    edges = {"checkout": ["payments", "search"], "payments": ["identity"], "identity": [],
             "search": []}
    ordered = graph.order(edges)
    assert ordered.index("identity") < ordered.index("payments") < ordered.index("checkout")
    assert graph.needed_by(edges, ["payments"]) == ["identity", "payments"]
    assert graph.find_cycle(edges) == []


@pytest.mark.parametrize(("policy", "answers", "state"), [
    ("all", ["passing", "passing"], "healthy"),
    ("all", ["passing", "failing"], "down"),
    ("all", ["passing", "unknown"], "unknown"),
    ("all", ["failing", "unknown"], "down"),  # down whatever the unknown one says
    (Quorum(quorum=2), ["passing", "passing", "failing"], "degraded"),
    (Quorum(quorum=2), ["passing", "failing", "failing"], "down"),
    (Quorum(quorum=2), ["passing", "passing", "passing"], "healthy"),
    (Quorum(quorum=2), ["passing", "passing", "unknown"], "unknown"),
    (DegradedBelow(degraded_below=2), ["passing", "passing", "failing"], "healthy"),
    (DegradedBelow(degraded_below=2), ["passing", "failing", "failing"], "degraded"),
    (DegradedBelow(degraded_below=2), ["failing", "failing", "failing"], "down"),
    ("all", [], "unknown"),
])
def test_policies_roll_probes_up(policy: object, answers: list[str], state: str) -> None:
    assert rollup.own_state(policy, answers)[0] == state  # type: ignore[arg-type]


def test_a_dependency_down_decides_with_the_root_cause() -> None:
    rolled = rollup.roll_up(
        {"identity": "all", "payments": "all", "checkout": "all", "search": "all"},
        {"identity": [], "payments": ["identity"], "checkout": ["payments", "search"],
         "search": []},
        {"identity": ["failing"], "payments": ["passing"], "checkout": ["failing"],
         "search": ["passing"]})
    assert rolled["identity"].state == "down" and rolled["identity"].cause is None
    assert (rolled["payments"].state, rolled["payments"].cause) == ("down", "identity")
    assert rolled["payments"].own_state == "healthy"
    assert (rolled["checkout"].state, rolled["checkout"].cause) == ("down", "identity")
    assert rolled["search"].state == "healthy"


def test_inputs_are_refused_and_environment_values_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    error = error_of("domains:\n  a:\n    owner: ${input.team}\n")
    assert str(error) == ("domains.yaml:5:12: domains.a.owner: a domains file takes no "
                          "inputs: read a value with ${env:NAME}")
    monkeypatch.setenv("PHASEGATE_TEST_TEAM", "team-a")
    text = HEADER + "domains:\n  a:\n    owner: ${env:PHASEGATE_TEST_TEAM}\n"
    assert loader.loads_domains(text).domains["a"].owner == "team-a"
