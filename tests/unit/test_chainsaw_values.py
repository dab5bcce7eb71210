"""Chainsaw's --values files: merged in order, refused with their name when unusable."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.errors import PlanError
from phasegate.suites import chainsaw_values


def test_later_files_win_and_nested_mappings_merge(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("env: dev\nimage: {repo: r, tag: '1'}\nkeep: true\n")
    (tmp_path / "b.yaml").write_text("env: poc\nimage: {tag: '01'}\n")
    assert chainsaw_values.read([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == {
        "env": "poc", "image": {"repo": "r", "tag": "01"}, "keep": True}


def test_a_file_that_is_not_a_mapping_is_refused_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(PlanError, match=r"list\.yaml: expected a mapping of values, found list"):
        chainsaw_values.read([str(tmp_path / "list.yaml")])


def test_malformed_yaml_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("foo: bar\nbaz: [unclosed\n")
    with pytest.raises(PlanError) as caught:
        chainsaw_values.read([str(tmp_path / "bad.yaml")])
    assert "bad.yaml" in str(caught.value) and caught.value.line is not None


def test_a_missing_file_is_named() -> None:
    with pytest.raises(PlanError, match=r"--values /nonexistent/v\.yaml: cannot read it"):
        chainsaw_values.read(["/nonexistent/v.yaml"])
