"""Reading a JUnit XML report, whichever runner wrote it (pytest, go-junit-report, Maven
Surefire, Jest, ...): ``<testsuites>`` or one ``<testsuite>``, each ``<testcase>`` passed,
failed, errored or skipped. Totals are counted from the cases, not taken from attributes
that some runners leave out or get wrong."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from phasegate.domains.records import TestCase, TestReport
from phasegate.errors import PlanError

MESSAGE_LIMIT = 2000  # a failure's text kept per case; the whole report is kept as artifact
_EXAMPLE = "expected a JUnit XML report: <testsuites> or <testsuite> holding <testcase>s"
# JUnit needs no DTD: refusing one refuses entity expansion (billion laughs) with it
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def read(path: Path, domain: str) -> tuple[TestReport, str]:
    """The report at ``path`` and its text; a malformed one is a PlanError at its line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError("test report not found", file=str(path)) from None
    except OSError as exc:
        raise PlanError(f"cannot read test report: {exc.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(f"is not UTF-8 text (byte {exc.start}); {_EXAMPLE}",
                        file=str(path)) from None
    return parse(text, str(path), domain, name=path.name), text


def parse(text: str, filename: str, domain: str, name: str | None = None) -> TestReport:
    if not text.strip():
        raise PlanError(f"the file is empty; {_EXAMPLE}", file=filename)
    dtd = _DTD.search(text)
    if dtd:
        line = text.count("\n", 0, dtd.start()) + 1
        raise PlanError("a DOCTYPE or ENTITY declaration is refused in a test report",
                        file=filename, line=line)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise PlanError(f"not well-formed XML: {reason}; {_EXAMPLE}", file=filename,
                        line=line, column=column + 1) from None
    if root.tag == "testsuite":
        suites = [root]
    elif root.tag == "testsuites":
        suites = list(root.iter("testsuite"))
    else:
        raise PlanError(f"the root element is <{root.tag}>; {_EXAMPLE}", file=filename, line=1)
    cases = tuple(_case(element) for suite in suites for element in suite.findall("testcase"))
    if not suites:
        raise PlanError(f"no <testsuite> in the report; {_EXAMPLE}", file=filename, line=1)
    duration = sum(_seconds(suite.get("time")) for suite in suites)
    if not duration:
        duration = sum(case.time for case in cases)
    return TestReport(
        domain=domain, name=name or filename, tests=len(cases),
        failures=sum(1 for c in cases if c.outcome == "failed"),
        errors=sum(1 for c in cases if c.outcome == "error"),
        skipped=sum(1 for c in cases if c.outcome == "skipped"),
        duration=round(duration, 6), cases=cases)


def _case(element: ElementTree.Element) -> TestCase:
    outcome = "passed"
    message = ""
    for tag, meaning in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        found = element.find(tag)
        if found is not None:
            outcome = meaning
            message = (found.get("message") or (found.text or "")).strip()[:MESSAGE_LIMIT]
            break
    return TestCase(name=element.get("name", ""), classname=element.get("classname", ""),
                    outcome=outcome,  # type: ignore[arg-type]
                    time=_seconds(element.get("time")), message=message)


def _seconds(value: str | None) -> float:
    try:
        return float((value or "0").replace(",", ""))
    except ValueError:
        return 0.0
