"""Chainsaw's expression language as phasegate evaluates it: JMESPath with ``$bindings``,
arithmetic and Chainsaw's functions; assertion trees whose keys and values are
expressions, ``~`` iterations and ``->`` bindings; templating; what cannot be evaluated is
named, not guessed at. Pure logic, on the examples' own trees."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from phasegate.probes import assertion_tree, expressions
from phasegate.probes.expressions import ExpressionError, Scope
from tests.integration.public_material import public

EXAMPLES = public("chainsaw-examples")


def _value(statement: str, current: Any = None, **bindings: Any) -> Any:
    return expressions.evaluate(statement, current, Scope(bindings))


def test_bindings_arithmetic_and_chainsaws_functions_evaluate_as_chainsaw_does() -> None:
    assert _value("$a + $b", a=1, b=2) == 3
    assert _value("to_string($a + $b)", a=1, b=2) == "3"  # Go writes a whole float as 3
    assert _value("to_string(`7` / `2`)") == "3.5"
    assert _value("`7` % `4`") == 3
    assert _value("join('-', ['nginx', to_string($index + `1`)])", index=1) == "nginx-2"
    assert _value("join('-', [$test.metadata.name, 'foo'])",
                  test={"metadata": {"name": "test-info"}}) == "test-info-foo"
    assert _value("[$foos, @][]", {"x": 3}, foos=[1, 2]) == [1, 2, {"x": 3}]
    assert _value("((to_number($id) == `1` && 'hello') || 'goodbye')", id="1") == "hello"
    assert _value("((to_number($id) == `1` && 'hello') || 'goodbye')", id="2") == "goodbye"
    assert _value("trim_space($s)", s="  hi \n") == "hi"
    assert _value("to_upper($p)", p="foo") == "FOO"
    assert _value("json_parse($s).data.foo", s='{"data": {"foo": "bar"}}') == "bar"
    assert _value("base64_decode('aGVsbG8=')") == "hello"
    assert _value("contains($stderr, 'top')", stderr="Did you mean this?\n\ttop") is True
    assert _value("starts_with(@, 'my-first-')", "my-first-configmap") is True
    assert _value("$error != null", error=None) is False
    assert _value("length(x_metrics_decode($m))", m="# TYPE a counter\na 1\nb{l=\"x\"} 2 5\n"
                  ) == 2


def test_an_unknown_binding_or_a_failing_function_is_an_error_naming_the_statement() -> None:
    with pytest.raises(ExpressionError, match=r"\(\$nope\): variable not defined: \$nope"):
        _value("$nope")
    with pytest.raises(ExpressionError, match="base64_decode"):
        _value("base64_decode('not base64!')")
    with pytest.raises(ExpressionError, match="x_k8s_list needs a cluster"):
        _value("x_k8s_list($client, 'v1', 'Node')", client={})


def test_keys_parse_as_chainsaw_parses_them() -> None:
    parsed = expressions.parse("~index2.(containers)")
    assert (parsed.foreach, parsed.foreach_name, parsed.statement, parsed.engine) == (
        True, "index2", "containers", "jp")
    parsed = expressions.parse("(spec)->specBinding")
    assert (parsed.binding, parsed.statement, parsed.foreach) == ("specBinding", "spec", False)
    assert expressions.parse("~.(env)").foreach_name == ""
    assert expressions.parse(r"\(literal)\ ".strip()) == expressions.Expression("(literal)")
    assert expressions.parse("(cel; a.b)").engine == "cel"
    assert not expressions.is_expression("name")


def test_what_cannot_be_evaluated_is_named() -> None:
    found = list(expressions.problems({"(foo(@))": 1, "a": "(rego; x)", "b": "(a +)",
                                       "c": "(split($x, ','))", "d": "(to_string(@))",
                                       "e": "(cel; x +)", "f": "(cel; object.a + 1)"}))
    assert found[0] == "(foo(@)): function foo is not supported"
    assert found[1] == "(rego; x): the rego engine is not supported"
    assert found[2].startswith("(a +): ")
    assert found[3] == "(split($x, ',')): function split is not supported"
    assert found[4].startswith("(cel; x +): does not parse: ")
    assert len(found) == 5
    assert expressions.variables({"(x_k8s_list($client, 'v1', 'Node'))": "($a.b)"}) == {
        "client", "a"}


def test_the_array_assertion_examples_tree_holds_and_says_where_it_fails() -> None:
    expected = yaml.safe_load((EXAMPLES / "array-assertion/assertions.yaml").read_text())
    pod = yaml.safe_load((EXAMPLES / "array-assertion/resources.yaml").read_text())
    assert assertion_tree.mismatch(expected, pod, Scope()) is None
    pod["spec"]["containers"][1]["env"][0]["value"] = "value-9"
    assert assertion_tree.mismatch(expected, pod, Scope()) == (
        "spec.~index2.(containers)[1].~.(env)[0].value: expected (join('-', ['value', "
        "to_string($index2 + `1`)])) = 'value-2', found 'value-9'")


def test_expression_keys_compare_their_value_with_the_subtree() -> None:
    label = {"metadata": {"labels": {"type": {"(starts_with(@, 'my-first-'))": True}}}}
    assert assertion_tree.mismatch(label, {"metadata": {"labels": {"type": "my-first-x"}}},
                                   Scope()) is None
    assert assertion_tree.mismatch(label, {"metadata": {"labels": {"type": "other"}}},
                                   Scope()) == ("metadata.labels.type.(starts_with(@, "
                                                "'my-first-')): expected True, found False")
    binding = {"spec": {"(spec)->s": {"~.(containers)": {
        "($s.securityContext != null || securityContext != null)": True}}}}
    held = {"spec": {"spec": {"securityContext": {}, "containers": [{"name": "a"}]}}}
    assert assertion_tree.mismatch(binding, held, Scope()) is None
    held["spec"]["spec"] = {"containers": [{"name": "a", "securityContext": {}}, {"name": "b"}]}
    assert "[1]" in str(assertion_tree.mismatch(binding, held, Scope()))
    non_resource = {"(x_metrics_decode($m))": {"(length(@))": 2}}
    assert assertion_tree.mismatch(non_resource, None, Scope({"m": "a 1\nb 2"})) is None


def test_trees_match_as_kyverno_json_matches() -> None:
    assert assertion_tree.mismatch({"a": [1, 2]}, {"a": [1, 2, 3]}, Scope()) == (
        "a: expected 2 items, found 3")
    assert assertion_tree.mismatch({"a": 1}, {"a": 1.0}, Scope()) is None
    assert assertion_tree.mismatch({"a": True}, {"a": 1}, Scope()) == (
        "a: expected True, found 1")
    assert assertion_tree.mismatch({"b": 1}, {"a": 1}, Scope()) == "b: missing"
    assert assertion_tree.mismatch({"a": {"b": 1}}, {"a": "x"}, Scope()) == (
        "a: expected a mapping, found 'x'")
    assert assertion_tree.mismatch({"($error)": None}, None, Scope({"error": None})) is None
    assert assertion_tree.mismatch({"(@)": {"a": 1}}, {"a": 1, "b": 2}, Scope()) is None
    assert assertion_tree.mismatch({"a": r"\(x)\ ".strip()}, {"a": "(x)"}, Scope()) is None


def test_templating_replaces_leaf_expressions_and_keeps_the_rest() -> None:
    scope = Scope({"namespace": "ns1", "c": 3})
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "(join('-', [$namespace, 'foo']))"},
          "data": {"foo": "(to_string($c))", "plain": "bar", "list": ["($namespace)"]}}
    assert expressions.template(cm, scope) == {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ns1-foo"},
        "data": {"foo": "3", "plain": "bar", "list": ["ns1"]}}
    assert expressions.template({"($a)": "x"}, Scope({"a": "k"}), keys=True) == {"k": "x"}


def test_a_secrets_values_are_not_said_where_its_tree_differs() -> None:
    from phasegate.probes import k8s_match

    expected = {"kind": "Secret", "data": {"password": "(base64_encode('hunter2'))"}}
    live = {"kind": "Secret", "data": {"password": "b3RoZXI="}}
    [(_, problem)] = k8s_match._tree_mismatches(expected, [live], Scope())
    assert problem == "data.password: a different value (redacted)"
    assert "hunter2" not in str(problem) and "b3RoZXI=" not in str(problem)
    [(_, problem)] = k8s_match._tree_mismatches(
        {"kind": "Secret", "data": {"token": "x"}}, [live], Scope())
    assert problem == "data.token: missing"


def test_cel_reads_object_and_bindings_as_chainsaws_cel_does() -> None:
    scope = Scope({"a": 1, "b": 2, "c": "3"})
    assert expressions.value_of('(cel; string(bindings.resolve("a") + bindings.resolve("b")))',
                                None, scope) == "3"
    assert expressions.value_of("(cel; object.data.x == '1')", {"data": {"x": "1"}},
                                scope) is True
    assert expressions.value_of("(cel; [object.n, 2.5, {'k': null}])", {"n": 4}, scope) == [
        4, 2.5, {"k": None}]
    with pytest.raises(ExpressionError, match=r"variable not defined: \$zz"):
        expressions.value_of('(cel; bindings.resolve("zz"))', None, scope)
    with pytest.raises(ExpressionError, match=r"^\(cel; object.missing\): "):
        expressions.value_of("(cel; object.missing)", {"n": 4}, scope)
    tree = {"data": {"(cel; object.x)": "(cel; bindings.resolve('c'))"}}
    assert assertion_tree.mismatch(tree, {"data": {"x": "3"}}, scope) is None
    assert assertion_tree.mismatch(tree, {"data": {"x": "4"}}, scope) is not None
    assert expressions.variables(tree) == {"c"}


def test_a_compiler_names_the_engine_of_every_expression_that_names_none() -> None:
    tree = {"(a)": ["(b)", "(jp; $c)", "plain", r"\(literal)\ ".strip()],
            "~i.(d)->e": "(cel; f)"}
    assert expressions.compiled_by(tree, "cel") == {
        "(cel;a)": ["(cel;b)", "(jp; $c)", "plain", r"\(literal)\ ".strip()],
        "~i.(cel;d)->e": "(cel; f)"}
    assert expressions.compiled_by(tree, "jp") is tree
