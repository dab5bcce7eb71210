"""Any text given to the loader yields a Plan or a PlanError — never another exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phasegate.errors import PlanError
from phasegate.plan.loader import loads_plan
from phasegate.plan.model import Plan

YAML_PIECES = st.sampled_from(
    [
        "apiVersion: phasegate/v1\n", "kind: Plan\n", "metadata: {name: x}\n", "phases:\n",
        "  - name: a\n", "    gate:\n", "      - http: {url: x}\n", "      - tcp: 5\n",
        "validate: [{dns: {name: a}}]\n", "- ", ": ", "{", "}", "[", "]", "&a ", "*a ", "!!binary ",
        "'", '"', "\t", "${input.x}", "${env:HOME}", "timeout: 2m\n", "rollback: [{apply: 1}]\n",
        "assumptions: {probes: [{file: {path: p}, interval: x}]}\n", "\n", "  ", "#", "---\n",
    ]
)


def _check(text: str) -> None:
    try:
        result = loads_plan(text, filename="fuzz.yaml")
    except PlanError as error:
        assert str(error).startswith("fuzz.yaml")
        return
    assert isinstance(result, Plan)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    _check(text)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAML_PIECES, max_size=30).map("".join))
def test_yaml_shaped_text(text: str) -> None:
    _check(text)
