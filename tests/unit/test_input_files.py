"""Inputs by file, as CI passes them: ``@file`` (a mapping), ``key=@file`` (one value, the
file's text), and ``@b64:file`` / ``key=@b64:file`` for what comes from CI secrets (base64,
so no quoting through YAML and shell can break it; every value read so is a secret)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from phasegate import secrets
from phasegate.errors import PlanError
from phasegate.plan.inputs import parse_input_args


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_one_value_from_a_file_is_its_text_without_the_last_newline(tmp_path: Path) -> None:
    (tmp_path / "motd.txt").write_text('line "one"\n  it\'s ${not} yaml: [\n')
    values = parse_input_args(["motd=@motd.txt", "app.banner=@motd.txt"], base=tmp_path)
    assert values["motd"] == 'line "one"\n  it\'s ${not} yaml: ['
    assert values["app"] == {"banner": values["motd"]}


def test_a_literal_at_sign_is_doubled(tmp_path: Path) -> None:
    assert parse_input_args(["handle=@@ops"], base=tmp_path) == {"handle": "@ops"}


def test_a_base64_value_is_decoded_and_masked_from_then_on(tmp_path: Path) -> None:
    password = "p@ss'w\"ord with\nnewline-3c9e"
    (tmp_path / "password.b64").write_text(b64(password) + "\n")
    values = parse_input_args(["registry.password=@b64:password.b64"], base=tmp_path)
    assert values == {"registry": {"password": password}}
    assert password not in secrets.mask(f"said {password}")


def test_a_base64_mapping_merges_like_a_values_file_and_every_value_is_secret(
    tmp_path: Path
) -> None:
    (tmp_path / "values.yaml").write_text("registry: {user: ci, password: placeholder}\n")
    (tmp_path / "secrets.b64").write_text(
        b64("registry:\n  password: 'from-the-vault-81f2'\ntoken: tok-5e6dc1f4a\n"))
    values = parse_input_args(["@values.yaml", "@b64:secrets.b64"], base=tmp_path)
    assert values == {"registry": {"user": "ci", "password": "from-the-vault-81f2"},
                      "token": "tok-5e6dc1f4a"}
    shown = secrets.mask("from-the-vault-81f2 tok-5e6dc1f4a")
    assert "from-the-vault" not in shown and "tok-5e6dc1f4a" not in shown


def test_an_empty_base64_file_is_no_inputs(tmp_path: Path) -> None:
    # a CI secret that is not set writes an empty file: the job runs without those inputs
    (tmp_path / "secrets.b64").write_text("")
    assert parse_input_args(["@b64:secrets.b64"], base=tmp_path) == {}


def test_bad_base64_names_the_file_and_never_its_content(tmp_path: Path) -> None:
    (tmp_path / "password.b64").write_text("not*base64*secret-contents")
    with pytest.raises(PlanError) as caught:
        parse_input_args(["password=@b64:password.b64"], base=tmp_path)
    assert caught.value.file == str(tmp_path / "password.b64")
    assert "base64" in str(caught.value) and "secret-contents" not in str(caught.value)


def test_a_missing_value_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="input file not found") as caught:
        parse_input_args(["password=@absent.txt"], base=tmp_path)
    assert caught.value.file == str(tmp_path / "absent.txt")
