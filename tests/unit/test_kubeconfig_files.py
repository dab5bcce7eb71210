"""kubectl's rules for merging a KUBECONFIG list (pure file reading, no cluster)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phasegate.errors import TargetError
from phasegate.kube import kubeconfig_files


def config(path: Path, current: str | None, clusters: dict[str, str]) -> Path:
    path.write_text(json.dumps({
        "current-context": current,
        "clusters": [{"name": n, "cluster": {"server": s}} for n, s in clusters.items()],
    }))
    return path


def test_first_file_to_set_a_key_wins_and_missing_files_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = config(tmp_path / "a", None, {"one": "https://a-one", "two": "https://a-two"})
    b = config(tmp_path / "b", "from-b", {"two": "https://b-two", "three": "https://b-three"})
    c = config(tmp_path / "c", "from-c", {})
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(
        [str(a), "", str(tmp_path / "missing"), str(b), str(a), str(c)]))
    merged = kubeconfig_files.read(None)
    assert merged.files == [a, b, c]
    servers = {n: e.body["server"] for n, e in merged.entries["clusters"].items()}
    assert servers == {"one": "https://a-one", "two": "https://a-two", "three": "https://b-three"}
    assert merged.entries["clusters"]["three"].file == b
    assert merged.current_context == "from-b"


def test_an_explicit_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="not found"):
        kubeconfig_files.read(str(tmp_path / "nope"))


def test_an_entry_without_a_name_is_refused_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text(json.dumps({"users": [{"user": {}}]}))
    with pytest.raises(TargetError, match=f"{bad}: users\\[0\\] has no name"):
        kubeconfig_files.read(str(bad))
