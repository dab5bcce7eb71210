"""The Temporal engine is an optional extra: the CLI's start and the local engine never
import temporalio (``phasegate --help`` stays fast and works without the extra)."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_and_the_local_engine_load_without_temporalio() -> None:
    code = ("import sys, phasegate.cli.app, phasegate.workflow.pipeline, "
            "phasegate.workflow.resuming; print(sorted(m for m in sys.modules "
            "if m.startswith(('temporalio', 'phasegate.temporal'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout


def test_the_workflow_module_imports_only_the_standard_library_temporalio_and_pure_data() -> None:
    workflow = _imports("phasegate/temporal/run_workflow.py")
    assert {n for n in workflow if n.startswith("phasegate")} == {
        "phasegate.temporal.steps", "phasegate.workflow.verdicts"}
    assert _tops(workflow) - {"phasegate", "temporalio"} <= set(sys.stdlib_module_names)
    for pure in ("phasegate/temporal/steps.py", "phasegate/workflow/verdicts.py"):
        assert _tops(_imports(pure)) <= set(sys.stdlib_module_names), pure


def _imports(path: str) -> set[str]:
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[2] / "src" / path).read_text())
    return {alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
            for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names}


def _tops(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names} - {"__future__"}


def test_the_fleet_workflow_imports_only_the_standard_library_temporalio_and_pure_data() -> None:
    workflow = _imports("phasegate/temporal/fleet_workflow.py")
    assert {n for n in workflow if n.startswith("phasegate")} == {
        "phasegate.temporal.fleet_waves", "phasegate.temporal.steps"}
    assert _tops(workflow) - {"phasegate", "temporalio"} <= set(sys.stdlib_module_names)
    assert _tops(_imports("phasegate/temporal/fleet_waves.py")) <= set(sys.stdlib_module_names)


def test_the_worker_passes_through_exactly_the_pure_modules_the_workflows_import() -> None:
    from phasegate.temporal import worker

    imported = {name for path in ("phasegate/temporal/run_workflow.py",
                                  "phasegate/temporal/fleet_workflow.py")
                for name in _imports(path) if name.startswith("phasegate")}
    assert set(worker.PURE) == imported
