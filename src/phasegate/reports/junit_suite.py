"""JUnit XML of a suite run (``phasegate suite run``), shaped as kuttl shapes its step
report: a testsuite per test directory, in it a testsuite per test, in that a testcase per
step ("setup", "step 0-run", …), so CI shows the same names kuttl's report did. The steps'
checks are the testcase's output; a failed step's failure says where and why."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

SETUP, STEP = "suite-setup", "suite-step"


def render(facts: dict[str, Any]) -> str:
    run = facts["run"]
    root = ET.Element("testsuites", name=run["plan"] or "")
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for step in facts["steps"]:
        if step["kind"] not in (SETUP, STEP):
            continue  # a teardown is evidence, not a test step
        directory, _, test = (step["phase"] or "suite/setup").rpartition("/")
        groups.setdefault(directory, {}).setdefault(test, []).append(step)
    totals = [0, 0]
    for directory, tests in groups.items():
        outer = ET.SubElement(root, "testsuite", name=directory)
        counts = [0, 0]
        for test, steps in tests.items():
            inner = ET.SubElement(outer, "testsuite", name=test, tests=str(len(steps)),
                                  failures=str(sum(1 for s in steps
                                                   if s["status"] not in ("passed", "skipped"))),
                                  time=_seconds(steps), timestamp=steps[0]["started"])
            for step in steps:
                _case(inner, test, step)
            counts[0] += len(steps)
            counts[1] += int(inner.get("failures", "0"))
        outer.set("tests", str(counts[0]))
        outer.set("failures", str(counts[1]))
        totals = [totals[0] + counts[0], totals[1] + counts[1]]
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("time", f"{run['duration'] or 0:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(parent: ET.Element, test: str, step: dict[str, Any]) -> None:
    name = step["name"].removeprefix("suite ") if step["kind"] == SETUP else step["name"]
    case = ET.SubElement(parent, "testcase", classname=test, name=name,
                         time=f"{step['duration'] or 0:.3f}")
    if step["status"] == "skipped":
        ET.SubElement(case, "skipped", message=step["detail"])
        return
    if step["status"] != "passed":
        failure = ET.SubElement(case, "failure", message=f"failed in {name}", type="")
        failure.text = step["detail"] or step["status"]
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(
        f"[{'pass' if c['passed'] else 'FAIL'}] {c['probe']}: {c['name']}: expected "
        f"{c['expected']}; observed {c['observed']} ({c['attempts']} attempts)"
        + (f"\n{c['output']}" if c["output"] else "")
        for c in step["checks"])


def _seconds(steps: list[dict[str, Any]]) -> str:
    return f"{sum(s['duration'] or 0 for s in steps):.3f}"
