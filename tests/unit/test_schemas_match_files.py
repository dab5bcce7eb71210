"""The published JSON Schemas accept every example plan and task file the loaders accept."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]


def schema(kind: str) -> dict[str, Any]:
    phasegate = str(Path(sys.executable).parent / "phasegate")
    out = subprocess.run([phasegate, "schema", "--for", kind], capture_output=True, text=True,
                         check=True)
    document: dict[str, Any] = json.loads(out.stdout)
    return document


def plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, datetime.date):
        return node.isoformat()
    return node


def test_example_plans_match_the_plan_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema("plan"))
    plans = sorted(ROOT.glob("examples/*/plan.yaml"))
    assert plans
    for plan in plans:
        errors = list(validator.iter_errors(plain(YAML(typ="safe").load(plan.read_text()))))
        assert not errors, f"{plan}: {errors[0].message}"


def test_task_files_match_the_task_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema("task"))
    tasks = sorted(ROOT.glob("tests/data/cluster-rebuild/tasks/*/*.md"))
    assert tasks
    for task in tasks:
        front = task.read_text().split("---\n")[1]
        errors = list(validator.iter_errors(plain(YAML(typ="safe").load(front))))
        assert not errors, f"{task}: {errors[0].message}"


def test_example_domains_files_match_the_domains_schema_and_load() -> None:
    from phasegate.domains import loader

    validator = jsonschema.Draft202012Validator(schema("domains"))
    files = sorted(ROOT.glob("examples/*/domains.yaml"))
    assert files
    for path in files:
        errors = list(validator.iter_errors(plain(YAML(typ="safe").load(path.read_text()))))
        assert not errors, f"{path}: {errors[0].message}"
        assert loader.load_domains(path).domains
