"""Manifest files read by libyaml mean what they meant under ruamel (YAML 1.2, plain
values), each file is parsed once per content, and an edit is always seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from phasegate.errors import PlanError
from phasegate.kube import manifests
from tests.unit.test_yamltree import SCALARS

MANY = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{n}}}\n"
               f"data: {{n: '{n}'}}\n" for n in range(300))


def test_every_scalar_reads_as_ruamels_safe_loader_read_it(tmp_path: Path) -> None:
    lines = "".join(f"  k{i}: {scalar}\n" for i, scalar in enumerate(SCALARS))
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n{lines}"
    (tmp_path / "m.yaml").write_text(text)
    [loaded] = manifests.load(["m.yaml"], tmp_path)
    expected = YAML(typ="safe").load(text)
    for key, value in expected["data"].items():
        got = loaded.obj["data"][key]
        assert got == value or (value != value and got != got), key  # .nan is not .nan
        assert type(got) is type(value), (key, type(got), type(value))
    assert loaded.obj["data"]["k0"] == "yes" and loaded.obj["data"]["k8"] == 31


def test_many_documents_keep_their_order_sources_and_content(tmp_path: Path) -> None:
    (tmp_path / "many.yaml").write_text(MANY + "---\n---\napiVersion: v1\nkind: Namespace\n"
                                        "metadata: {name: first}\n")
    loaded = manifests.load(["many.yaml"], tmp_path)
    assert loaded[0].kind == "Namespace"  # ordered for applying
    assert [m.name for m in loaded[1:]] == [f"cm-{n}" for n in range(300)]
    assert loaded[1].source.endswith("many.yaml#1")
    assert loaded[0].source.endswith("many.yaml#302")
    assert json.dumps(loaded[5].obj) == json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-4"},
         "data": {"n": "4"}})


def test_a_file_is_parsed_once_and_an_edit_of_the_same_size_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(MANY)
    first = manifests.load(["many.yaml"], tmp_path)
    again = manifests.load(["many.yaml"], tmp_path)
    assert all(a is b for a, b in zip(again, first, strict=True))  # not parsed again
    path.write_text(MANY.replace("n: '7'", "n: '8'"))  # same size, same instant
    edited = manifests.load(["many.yaml"], tmp_path)
    assert edited[7].obj["data"] == {"n": "8"}
    with_inputs = manifests.load(["many.yaml"], tmp_path, {"x": "1"})
    assert with_inputs == edited


def test_what_libyaml_refuses_is_still_a_syntax_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: [ConfigMap\n")
    with pytest.raises(PlanError) as refused:
        manifests.load(["bad.yaml"], tmp_path)
    assert "YAML syntax error" in str(refused.value) and "bad.yaml" in str(refused.value)
