"""The fields of kuttl's TestSuite, TestStep and TestAssert objects: read, refused with
file and line when malformed, or named (a Note) when phasegate does not do them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.plan import yamltext
from phasegate.suites import model

COMMON = {"apiVersion", "kind", "metadata"}
SUITE_READ = {"testDirs", "crdDir", "manifestDirs", "timeout", "namespace", "parallel",
              "skipDelete", "commands"}
SUITE_NOT_DONE = {
    "startControlPlane": "phasegate runs against the cluster you name; it starts none",
    "startKIND": "phasegate runs against the cluster you name; it starts none",
    "kindConfig": "phasegate starts no kind cluster",
    "kindContext": "phasegate starts no kind cluster",
    "kindNodeCache": "phasegate starts no kind cluster",
    "kindContainers": "phasegate starts no kind cluster",
    "skipClusterDelete": "phasegate starts no cluster",
    "controlPlaneArgs": "phasegate starts no control plane",
    "attachControlPlaneOutput": "phasegate starts no control plane",
    "artifactsDir": "phasegate keeps the evidence in its store (phasegate evidence RUN)",
    "reportFormat": "phasegate writes its own reports (--reports DIR)",
    "reportName": "phasegate writes its own reports (--reports DIR)",
    "reportGranularity": "phasegate writes step and test granularity alike",
    "suppress": "phasegate records every event and log as evidence",
    "fullName": "tests are named by their directory",
    "config": "phasegate uses --kubeconfig and --context",
    "namespaceLabels": "not supported",
    "namespaceAnnotations": "not supported",
}
STEP_READ = {"apply", "assert", "error", "delete", "commands", "index"}
ASSERT_READ = {"timeout", "collectors", "commands"}
COMMAND_READ = {"command", "script", "namespaced", "ignoreFailure", "timeout",
                "skipLogOutput", "background"}
COLLECTOR_READ = {"type", "pod", "namespace", "container", "selector", "tail", "command",
                  "cmd"}


def suite_settings(file: Path, documents: list[Any], notes: list[model.Note]) -> dict[str, Any]:
    suites = [d for d in documents if d.get("kind") == "TestSuite"]
    if len(suites) != 1:
        raise PlanError(f"expected one TestSuite object, found {len(suites)}", file=str(file))
    tree = suites[0]
    settings = _read(file, tree, SUITE_READ, SUITE_NOT_DONE, notes)
    for key in ("testDirs", "manifestDirs"):
        if key in settings and not _strings(settings[key]):
            raise _bad(file, tree, key, "expected a list of directories")
    for key in ("timeout", "parallel"):
        if key in settings and not _number(settings[key]):
            raise _bad(file, tree, key, "expected a number")
    if "commands" in settings:
        settings["commands"] = _commands(file, tree, "commands", notes)
    return settings


def step_settings(file: Path, tree: Any, notes: list[model.Note]) -> dict[str, Any]:
    settings = _read(file, tree, STEP_READ, {
        "kubeconfig": "steps run against the suite's cluster",
        "kubeconfigLoading": "steps run against the suite's cluster",
        "unitTest": "not supported",
    }, notes)
    name = (tree.get("metadata") or {}).get("name")
    if name:
        settings["name"] = str(name)
    for key in ("apply", "assert", "error"):
        if key in settings and not _strings(settings[key]):
            raise _bad(file, tree, key, "expected a list of files or directories")
    if "commands" in settings:
        settings["commands"] = _commands(file, tree, "commands", notes)
    if "delete" in settings:
        settings["delete"] = _deletes(file, tree)
    return settings


def assert_settings(file: Path, tree: Any, notes: list[model.Note]) -> dict[str, Any]:
    expressions = "expression asserts (CEL) are not supported; not evaluated"
    settings = _read(file, tree, ASSERT_READ, {
        "assertAll": expressions, "assertAny": expressions, "resourceRefs": expressions,
    }, notes)
    if "timeout" in settings and not _number(settings["timeout"]):
        raise _bad(file, tree, "timeout", "expected seconds, a number")
    if "commands" in settings:
        settings["commands"] = _commands(file, tree, "commands", notes)
    if "collectors" in settings:
        settings["collectors"] = _collectors(file, tree, notes)
    return settings


def _read(file: Path, tree: Any, read: set[str], not_done: dict[str, str],
          notes: list[model.Note]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in tree.items():
        if key in read:
            settings[key] = yamltext.plain(value)
        elif key in not_done:
            notes.append(model.Note(str(file), _key_line(tree, key),
                                    f"{tree.get('kind')}.{key}: {not_done[key]}"))
        elif key not in COMMON:
            notes.append(model.Note(str(file), _key_line(tree, key),
                                    f"{tree.get('kind')}.{key}: unknown field; not read"))
    return settings


def _commands(file: Path, tree: Any, key: str, notes: list[model.Note]) -> list[model.Command]:
    given = tree.get(key)
    if not isinstance(given, list):
        raise _bad(file, tree, key, "expected a list of commands")
    found = []
    for index, item in enumerate(given):
        if not isinstance(item, dict) or not (item.get("command") or item.get("script")):
            raise _bad(file, given, index, "expected a command or a script")
        if item.get("command") and item.get("script"):
            raise _bad(file, given, index, "a command has a command or a script, not both")
        for field in item:
            if field not in COMMAND_READ:
                notes.append(model.Note(str(file), _key_line(item, field),
                                        f"command.{field}: unknown field; not read"))
        timeout = item.get("timeout")
        found.append(model.Command(
            command=str(item.get("command") or ""), script=str(item.get("script") or ""),
            namespaced=bool(item.get("namespaced", False)),
            ignore_failure=bool(item.get("ignoreFailure", False)),
            timeout=float(timeout) if _number(timeout) and timeout else None,
            skip_log_output=bool(item.get("skipLogOutput", False))))
    return found


def _collectors(file: Path, tree: Any, notes: list[model.Note]) -> list[model.Collector]:
    given = tree.get("collectors")
    if not isinstance(given, list):
        raise _bad(file, tree, "collectors", "expected a list of collectors")
    found = []
    for index, item in enumerate(given):
        if not isinstance(item, dict):
            raise _bad(file, given, index, "expected a collector (pod, selector, events, cmd)")
        for field in item:
            if field not in COLLECTOR_READ:
                notes.append(model.Note(str(file), _key_line(item, field),
                                        f"collector.{field}: unknown field; not read"))
        kind = str(item.get("type") or ("command" if item.get("command") or item.get("cmd")
                                        else "pod"))
        text = str(item.get("command") or item.get("cmd") or "")
        if kind == "command" and not text:
            raise _bad(file, given, index, "a command collector needs a command")
        if kind == "pod" and not (item.get("pod") or item.get("selector")):
            raise _bad(file, given, index, "a pod collector needs a pod or a selector")
        if kind not in ("pod", "command", "events"):
            raise _bad(file, given, index, f"unknown collector type {kind!r}; expected pod, "
                       "command or events")
        tail = item.get("tail")
        found.append(model.Collector(
            command=model.Command(script=text) if kind == "command" else None,
            pod=str(item.get("pod") or ""), selector=str(item.get("selector") or ""),
            container=str(item.get("container") or ""),
            namespace=str(item.get("namespace") or ""), events=kind == "events",
            tail=int(tail) if isinstance(tail, int) else None))
    return found


def _deletes(file: Path, tree: Any) -> list[model.DeleteRef]:
    given = tree.get("delete")
    if not isinstance(given, list):
        raise _bad(file, tree, "delete", "expected a list of objects to delete")
    found = []
    for index, item in enumerate(given):
        if not isinstance(item, dict) or not item.get("kind"):
            raise _bad(file, given, index, "expected an object reference with a kind")
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            raise _bad(file, item, "labels", "expected a mapping of labels")
        found.append(model.DeleteRef(
            api_version=str(item.get("apiVersion") or ""), kind=str(item["kind"]),
            name=str(item.get("name") or ""), namespace=str(item.get("namespace") or ""),
            labels={str(k): str(v) for k, v in labels.items()}))
    return found


def _bad(file: Path, tree: Any, key: Any, message: str) -> PlanError:
    place = yamltext.locate(tree, (key,))
    return PlanError(message, file=str(file), line=place[0] if place else None,
                     column=place[1] if place else None, path=str(key))


def _key_line(tree: Any, key: Any) -> int | None:
    place = yamltext.locate(tree, (key,), at_key=True)
    return place[0] if place else None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
