"""A fleet's pure parts: wave planning, when no further wave starts, what the status table
shows per stage; and the targets file, with errors located like a plan's."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.errors import PlanError
from phasegate.temporal import fleet_targets, fleet_waves

STAGES = ["R", "0", "P", "I", "V"]


def test_the_canary_wave_comes_first_then_waves_of_max_parallel_in_file_order() -> None:
    names = ["a", "b", "c", "d", "e", "f"]
    assert fleet_waves.plan_waves(names, 1, 2) == [["a"], ["b", "c"], ["d", "e"], ["f"]]
    assert fleet_waves.plan_waves(names, 2, 3) == [["a", "b"], ["c", "d", "e"], ["f"]]
    assert fleet_waves.plan_waves(names, 1, 10) == [["a"], ["b", "c", "d", "e", "f"]]
    assert fleet_waves.plan_waves(["a"], 1, 1) == [["a"]]
    with pytest.raises(ValueError):
        fleet_waves.plan_waves(names, 1, 0)


def test_no_further_wave_once_max_failures_targets_ended_other_than_passed() -> None:
    going = ["passed", "running", "awaiting approval", "not started"]
    assert fleet_waves.stop_reason(going, 1) == ""
    assert fleet_waves.stop_reason([*going, "failed"], 2) == ""
    said = fleet_waves.stop_reason([*going, "failed", "error"], 2)
    assert said == "2 targets failed (max_failures 2): no further wave started"
    assert fleet_waves.stop_reason(["refused"], 1).startswith("1 target failed")


def test_each_stage_shows_passed_up_to_where_the_run_is_or_stopped() -> None:
    cells = fleet_waves.stage_cells
    assert cells(STAGES, "not started", "", None) == dict.fromkeys(STAGES, "-")
    assert cells(STAGES, "passed", "V", None) == dict.fromkeys(STAGES, "passed")
    assert cells(STAGES, "failed", "R", "R") == {"R": "failed", "0": "-", "P": "-",
                                                  "I": "-", "V": "-"}
    assert list(cells(STAGES, "awaiting approval", "P", None).values()) == [
        "passed", "passed", "awaiting approval", "-", "-"]
    assert list(cells(STAGES, "error", "", None).values()) == ["error", "-", "-", "-", "-"]


def test_the_fleet_passes_only_when_every_target_passed() -> None:
    assert fleet_waves.fleet_status(["passed", "passed"], "") == "passed"
    assert fleet_waves.fleet_status(["passed", "failed"], "") == "failed"
    assert fleet_waves.fleet_status(["failed", "not started"], "stopped") == "failed"
    assert fleet_waves.fleet_status(["passed", "interrupted"], "") == "interrupted"


GOOD = """\
apiVersion: phasegate/v1
kind: Fleet
canary: 1
max_parallel: 2
max_failures: 1
targets:
  - name: east
    kubeconfig: east.kubeconfig
    context: phasegate-local
    inputs: {namespace: shop}
  - name: west
    kubeconfig: sub/west.kubeconfig
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sub").mkdir(exist_ok=True)
    for name in ("east.kubeconfig", "sub/west.kubeconfig"):
        (tmp_path / name).write_text("apiVersion: v1\nkind: Config\n")
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(PlanError) as caught:
        fleet_targets.load(write(tmp_path, text))
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_a_targets_file_loads_with_kubeconfigs_read_beside_it(tmp_path: Path) -> None:
    fleet = fleet_targets.load(write(tmp_path, GOOD))
    assert [t.name for t in fleet.targets] == ["east", "west"]
    assert fleet.targets[1].kubeconfig == str(tmp_path / "sub" / "west.kubeconfig")
    assert fleet.targets[0].inputs == {"namespace": "shop"} and fleet.max_parallel == 2


def test_an_unknown_target_field_is_located_with_a_suggestion(tmp_path: Path) -> None:
    said = error_of(tmp_path, GOOD.replace("    context: phasegate", "    contxt: phasegate"))
    assert said.startswith(f"{tmp_path / 'targets.yaml'}:9:5: ")
    assert "unknown field 'contxt'" in said and "context" in said


@pytest.mark.parametrize(("change", "line", "wanted"), [
    (("  - name: west", "  - name: east"), 11, "target name 'east' is used twice"),
    (("sub/west.kubeconfig", "nowhere.kubeconfig"), 12, "kubeconfig 'nowhere.kubeconfig' "
     "not found"),
    (("max_parallel: 2", "max_parallel: 0"), 4, "greater than or equal to 1"),
    (("canary: 1", "canary: 3"), 3, "canary 3 is more than the 2 targets"),
    (("name: west", "name: West_1"), 11, "should match pattern"),
])
def test_bad_targets_are_one_located_error(tmp_path: Path, change: tuple[str, str], line: int,
                                           wanted: str) -> None:
    said = error_of(tmp_path, GOOD.replace(*change))
    assert f"targets.yaml:{line}:" in said and wanted in said, said


def test_the_published_schema_takes_a_good_targets_file_and_refuses_an_unknown_field() -> None:
    import jsonschema
    from ruamel.yaml import YAML

    validator = jsonschema.Draft202012Validator(fleet_targets.schema())
    good = YAML(typ="safe").load(GOOD)
    assert not list(validator.iter_errors(good))
    good["targets"][0]["contxt"] = "x"
    assert [e.message for e in validator.iter_errors(good)] == [
        "Additional properties are not allowed ('contxt' was unexpected)"]
