"""Task files: located errors, edits that touch only what they must, the queue, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasegate.errors import PlanError
from phasegate.tasks import files, queue
from phasegate.tasks.model import Task

DATA = Path(__file__).resolve().parents[1] / "data"

GOOD = """---
id: NET-7
title: Open the registry port   # why: CR-101
priority: high
status: "active"
created: 2026-11-20
owner: netops          # unknown: kept
criteria:
  - text: port open
    verify: {tcp: {host: 127.0.0.1, port: 5000}}
  - text: approved
    verify: attest
    ticket: OPS-1
---

Body text.

## Progress log

- 2026-11-20 10:00 UTC · created

## Links

- OPS-1
"""


def write(tmp_path: Path, text: str, folder: str = "active", name: str = "t.md") -> Path:
    path = tmp_path / "tasks" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PlanError) as caught:
        files.load(path)
    return str(caught.value).replace(str(path), "t.md")


def test_a_task_loads_with_its_unknown_fields_kept(tmp_path: Path) -> None:
    task = files.load(write(tmp_path, GOOD))
    assert (task.id, task.priority, task.status, task.folder) == ("NET-7", "high", "active",
                                                                  "active")
    assert [c.kind for c in task.criteria] == ["tcp", "attest"]
    assert task.extra == {"owner": "netops"}
    assert task.created.isoformat() == "2026-11-20T00:00:00+00:00"


@pytest.mark.parametrize(("text", "message"), [
    ("id: X\n", "t.md:1:1: no front matter"),
    ("---\nid: X\n", "t.md:2:1: the front matter is not closed"),
    ("---\nid: [\n---\n", "t.md:3:1: YAML syntax error"),
    ("---\nid: X\ntitle: t\npriority: urgent\n---\n",
     "t.md:4:11: priority: Input should be 'critical', 'high', 'medium' or 'low'"),
    ("---\nid: X\ntitle: t\npriorty: high\n---\n",
     "t.md:4:1: priorty: unknown field 'priorty' — did you mean 'priority'?"),
    ("---\nid: X\ntitle: t\ncriteria:\n  - text: a\n    verfy: attest\n---\n",
     "t.md:6:5: criteria[0].verfy: unknown field 'verfy' — did you mean 'verify'?"),
    ("---\nid: X\ntitle: t\ncriteria:\n  - text: a\n---\n",
     "t.md:5:5: criteria[0].verify: missing required field 'verify' (a probe such as"),
    ("---\nid: X\ntitle: t\ncriteria:\n  - text: a\n    verify: {tsl: {host: h}}\n---\n",
     "t.md:6:14: criteria[0].verify: unknown probe 'tsl' — did you mean 'tls'?"),
    ("---\nid: X\ntitle: t\ncriteria:\n  - text: a\n    verify:\n      tcp: {host: h, port: x}"
     "\n---\n", "t.md:7:28: criteria[0].verify.tcp.port: Input should be a valid integer"),
    ("---\nid: X\ntitle: t\ncriteria:\n  - text: a\n    verify:\n      plan_run: {plan: p, "
     "within: soon}\n---\n", "criteria[0].verify.plan_run.within: expected a duration"),
    ("---\nid: 7up\ntitle: t\n---\n", "t.md:2:5: id: String should match pattern"),
])
def test_errors_name_file_line_column_and_path(tmp_path: Path, text: str, message: str) -> None:
    assert message in error(tmp_path, text)


def test_a_placeholder_is_checked_when_its_input_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, "---\nid: X\ntitle: t\ncriteria:\n  - text: a\n    verify:\n"
                           "      tcp: {host: h, port: '${input.port}'}\n---\n")
    task = files.load(path)  # listing needs no inputs
    from phasegate.tasks import verify

    with pytest.raises(PlanError) as caught:
        verify.build_checks(task, {})
    assert str(caught.value) == (f"{path}:7:28: criteria[0].verify.tcp.port: input 'port' is "
                                 "not given (pass --input port=...)")
    assert verify.build_checks(task, {"port": 5000})[1].params.port == 5000  # type: ignore


def test_setting_fields_touches_only_their_lines(tmp_path: Path) -> None:
    text = files.set_fields(GOOD, {"status": "completed", "completed": "2026-11-23"}, "t.md")
    before, after = GOOD.splitlines(), text.splitlines()
    assert after[4] == 'status: "completed"'  # quotes kept
    assert after[5] == "completed: 2026-11-23"  # added after status
    assert after[:4] == before[:4] and after[6:] == before[5:]
    commented = files.set_fields(text.replace('status: "completed"',
                                              "status: active   # by hand"),
                                 {"status": "blocked"}, "t.md")
    assert "status: blocked   # by hand\n" in commented
    assert files.loads(text, tmp_path / "t.md", "completed").status == "completed"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
               max_size=40))
def test_any_value_round_trips_and_nothing_else_changes(value: str) -> None:
    text = files.set_fields(GOOD, {"status": value, "note": value}, "t.md")
    from phasegate.plan import yamltext

    front, body = files.split(text, "t.md")
    tree = yamltext.plain(yamltext.parse(front, "t.md"))
    assert str(tree["status"]) == value and str(tree["note"]) == value  # dates stay dates
    assert tree["criteria"][1]["ticket"] == "OPS-1" and body == files.split(GOOD, "t.md")[1]


def test_the_progress_log_grows_in_its_own_section() -> None:
    text = files.append_log(GOOD, "verify: 1 of 2")
    assert "- 2026-11-20 10:00 UTC · created\n- verify: 1 of 2\n\n## Links" in text
    bare = files.append_log("---\nid: X\ntitle: t\n---\nBody.\n", "started")
    assert bare.endswith("Body.\n\n## Progress log\n\n- started\n")
    empty = files.append_log("---\nid: X\ntitle: t\n---\n## Progress log\n", "started")
    assert empty.endswith("## Progress log\n\n- started\n")


def tasks_in(root: Path) -> list[Task]:
    return files.load_dir(root)


def test_queue_priority_then_age_and_blockers() -> None:
    built = queue.build(tasks_in(DATA / "cluster-rebuild" / "tasks"))
    assert [e.task.id for e in built.ready] == ["CR-101", "CR-102", "CR-103", "CR-106"]
    assert {e.task.id: e.blockers for e in built.blocked} == {
        "CR-104": ("CR-102", "CR-103"), "CR-105": ("CR-104",)}
    assert built.next() is not None and built.next().task.id == "CR-101"  # type: ignore


def test_a_cycle_is_an_error_naming_it() -> None:
    with pytest.raises(PlanError) as caught:
        queue.build(tasks_in(DATA / "tasks-cycle"))
    assert "dependency cycle: CY-1 → CY-3 → CY-2 → CY-1" in str(caught.value)
    assert "CY-1-drain-nodes.md:6:14: blocked_by[0]" in str(caught.value)


def test_unknown_blocker_and_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "---\nid: A-1\ntitle: a\nblocked_by: A-2\n---\n", "backlog", "a.md")
    write(tmp_path, "---\nid: A-3\ntitle: b\n---\n", "backlog", "b.md")
    with pytest.raises(PlanError) as caught:
        queue.build(tasks_in(tmp_path / "tasks"))
    assert "a.md:4:13: blocked_by[0]: blocked by 'A-2', which is no task" in str(caught.value)
    assert "did you mean 'A-3'" in str(caught.value)  # never itself
    with pytest.raises(PlanError, match=r"no task 'A-4' in .* did you mean 'A-3'"):
        files.find(tmp_path / "tasks", "A-4")
    write(tmp_path, "---\nid: A-3\ntitle: c\n---\n", "active", "c.md")
    with pytest.raises(PlanError, match="task id A-3 is used twice"):
        tasks_in(tmp_path / "tasks")


def test_the_docs_name_every_field_and_command() -> None:
    from phasegate.cli import tasks_commands
    from phasegate.tasks import model

    docs = (Path(__file__).resolve().parents[2] / "docs" / "tasks.md").read_text()
    for name in (*model.KNOWN_FIELDS, *model.CRITERION_FIELDS, "plan_run", "attest"):
        assert f"`{name}`" in docs, f"{name} undocumented"
    for command in tasks_commands.app.registered_commands:
        assert f"phasegate tasks {command.name}" in docs or command.name == "list"
    assert "`phasegate tasks` (or `tasks list`)" in docs
