"""The plan loader: every failure names file, line, column and path; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate import secrets
from phasegate.errors import PlanError
from phasegate.plan.inputs import parse_input_args
from phasegate.plan.loader import load_plan, loads_plan

HEADER = "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: shop}\n"


def error_of(text: str, **kwargs: object) -> PlanError:
    with pytest.raises(PlanError) as caught:
        loads_plan(text, filename="shop.yaml", **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_a_valid_plan_loads_with_probe_calls() -> None:
    plan = loads_plan(
        HEADER
        + "assumptions:\n  probes:\n    - tcp: {host: 127.0.0.1, port: 80}\n"
        + "phases:\n  - name: api\n    apply: api.yaml\n    gate:\n"
        + "      - http: {url: 'http://x/health'}\n        name: health\n        interval: 1s\n"
        + "    timeout: 2m\n"
    )
    assert plan.metadata.name == "shop"
    assert plan.phases[0].apply == ["api.yaml"]
    assert plan.phases[0].timeout == 120
    call = plan.phases[0].gate[0]
    assert (call.kind, call.name, call.interval) == ("http", "health", 1.0)
    assert [c.kind for c in plan.probe_calls()] == ["tcp", "http"]
    assert len(plan.content_hash) == 64


def test_misspelt_probe_names_place_and_suggestion() -> None:
    text = HEADER + "phases:\n  - name: a\n  - name: api\n    gate:\n      - htpp: {url: x}\n"
    error = error_of(text)
    assert str(error) == (
        "shop.yaml:8:9: phases[1].gate[0]: unknown probe 'htpp' — did you mean 'http'?"
    )


def test_misspelt_probe_field_is_located_with_suggestion() -> None:
    text = HEADER + "validate:\n  - http:\n      url: http://x\n      stauts: 200\n"
    assert str(error_of(text)) == (
        "shop.yaml:7:7: validate[0].http.stauts: unknown field 'stauts' — did you mean 'status'?"
    )


def test_misspelt_plan_field_is_suggested() -> None:
    text = HEADER + "assumptions:\n  storageClass: [standard]\n"
    error = error_of(text)
    assert (error.line, error.column, error.path) == (5, 3, "assumptions.storageClass")
    assert error.suggestion == "storageClasses"


def test_wrong_type_says_what_was_expected() -> None:
    error = error_of(HEADER + "phases:\n  - name: api\n    timeout: soon\n")
    assert error.path == "phases[0].timeout" and error.line == 6
    assert "duration" in str(error)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("- a\n- b\n", "expected a mapping"),
        ("apiVersion: [unclosed\n", "YAML syntax error"),
        ("a: 1\na: 2\n", "YAML syntax error"),
        ("apiVersion: phasegate/v2\nkind: Plan\nmetadata: {name: x}\n", "phasegate/v1"),
    ],
)
def test_malformed_documents_give_one_paragraph(text: str, words: str) -> None:
    error = error_of(text)
    assert words in str(error)
    assert str(error).startswith("shop.yaml")
    assert "\n" not in str(error)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "plan.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    with pytest.raises(PlanError, match="binary file"):
        load_plan(binary)
    with pytest.raises(PlanError, match="not found"):
        load_plan(tmp_path / "absent.yaml")


def test_inputs_from_files_and_pairs_are_substituted(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("db: {port: 5432}\nhost: db.local\n")
    values = parse_input_args(["@values.yaml", "host=db.prod"], base=tmp_path)
    plan = loads_plan(
        HEADER + "validate:\n  - tcp: {host: '${input.host}', port: '${input.db.port}'}\n"
        "    name: 'db at ${input.host}:$${literal}'\n",
        inputs=values,
    )
    call = plan.validation[0]
    assert call.params.model_dump()["host"] == "db.prod"
    assert call.params.model_dump()["port"] == 5432
    assert call.name == "db at db.prod:${literal}"


def test_missing_input_is_located() -> None:
    error = error_of(HEADER + "validate:\n  - tcp: {host: '${input.host}', port: 1}\n")
    assert error.path == "validate[0].tcp.host" and error.line == 5
    assert "--input host=" in str(error)


def test_env_values_become_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets.forget_all()
    monkeypatch.setenv("PG_TEST_TOKEN", "tok-123456789")
    loads_plan(HEADER + "validate:\n  - http: {url: 'http://x/?t=${env:PG_TEST_TOKEN}'}\n")
    assert "tok-123456789" not in secrets.mask("url http://x/?t=tok-123456789")
    secrets.forget_all()


def test_ordinary_aliases_still_load() -> None:
    first = "  - name: p0\n    apply: p0.yaml\n    gate: &health\n      - http: {url: 'http://x/'}\n"
    rest = "".join(f"  - {{name: p{i}, apply: p{i}.yaml, gate: *health}}\n" for i in range(1, 200))
    plan = loads_plan(HEADER + "phases:\n" + first + rest)
    assert len(plan.phases) == 200


def test_an_alias_bomb_is_refused_at_its_anchor() -> None:
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    error = error_of(HEADER + "\n".join(levels) + "\n")
    assert (error.line, error.column) == (12, 5)  # at &a8
    assert "anchor &a8 alone expands to 435,848,050" in error.message


def test_an_alias_bomb_in_a_manifest_is_refused(tmp_path: Path) -> None:
    from phasegate.kube import manifests

    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    bomb = tmp_path / "cm.yaml"
    bomb.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n"
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n"
                    + "".join(f"  {line}\n" for line in levels))
    with pytest.raises(PlanError) as caught:
        manifests.load([str(bomb)], tmp_path)
    assert caught.value.file == f"{bomb}#2"
    assert "YAML aliases expand" in caught.value.message


def test_an_alias_bomb_in_an_input_file_is_refused(tmp_path: Path) -> None:
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    values = tmp_path / "values.yaml"
    values.write_text("\n".join(levels) + "\n")
    with pytest.raises(PlanError) as caught:
        parse_input_args([f"@{values}"])
    assert (caught.value.file, caught.value.line) == (str(values), 10)
