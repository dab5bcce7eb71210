"""JUnit XML: a testcase per check; a failure's message carries the observed value."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from phasegate.reports import junit_suite


def render(facts: dict[str, Any]) -> str:
    run = facts["run"]
    if run["command"] == "suite":  # a kuttl-style suite: a testcase per step, as kuttl's
        return junit_suite.render(facts)
    root = ET.Element("testsuites", name=f"phasegate {run['id']}")
    for step in facts["steps"]:
        checks = step["checks"]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{step['stage']} {step['name']}",
            tests=str(len(checks)),
            failures=str(sum(1 for c in checks if not c["passed"] and not c["error"])),
            errors=str(sum(1 for c in checks if c["error"])),
            time=f"{step['duration'] or 0:.3f}",
            timestamp=step["started"],
        )
        for check in checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{run['plan'] or run['command']}.{step['name']}",
                name=f"{check['probe']}: {check['name']}",
                time=f"{check['duration']:.3f}",
            )
            if not check["passed"]:
                tag = "error" if check["error"] else "failure"
                failure = ET.SubElement(
                    case,
                    tag,
                    message=f"expected {check['expected']}; observed {check['observed']}",
                    type=check["probe"],
                )
                failure.text = check["output"]
            out = ET.SubElement(case, "system-out")
            out.text = (
                f"expected: {check['expected']}\nobserved: {check['observed']}\n"
                f"attempts: {check['attempts']}\n{check['output']}"
            )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
