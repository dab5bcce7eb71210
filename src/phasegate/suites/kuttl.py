"""kuttl suites, loaded as kuttl reads them: ``kuttl-test.yaml`` (a TestSuite), test
directories, numbered step files grouped by number (``NN-*.yaml``, or a ``NN-*``
directory), ``NN-assert*.yaml`` and ``NN-errors*.yaml``, and the TestStep and TestAssert
objects in them. What phasegate does not do is named with its file and line."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.plan import yamltext
from phasegate.suites import kuttl_fields, model

CONFIG = "kuttl-test.yaml"
STEP_FILE = re.compile(r"^(\d+)-(?:[^.]+)(?:\.yaml)?$")
FILE_ROLE = re.compile(r"^(?:\d+-)?([^-.]+)(-[^.]+)?(?:\.yaml)?$")
KUTTL_GROUPS = ("kuttl.dev/", "kudo.dev/")


def is_suite(path: Path) -> bool:
    """A kuttl config here, or test directories holding numbered step files."""
    if (path / CONFIG).is_file() or path.name == CONFIG:
        return True
    return path.is_dir() and any(
        STEP_FILE.match(entry.name) for test in _subdirs(path) for entry in test.iterdir())


def load(paths: list[Path], timeout: float | None = None) -> model.Suite:
    """The suite of a ``kuttl-test.yaml`` (or a directory holding one), or of test
    directories given as kuttl's command line takes them."""
    notes: list[model.Note] = []
    settings: dict[str, Any] = {}
    config = _config_file(paths)
    root = config.parent if config else paths[0]
    test_dirs = list(paths)
    if config is not None:
        settings = kuttl_fields.suite_settings(config, documents(config), notes)
        test_dirs = [root / d for d in settings.get("testDirs") or ["."]]
    for directory in test_dirs:
        if not directory.is_dir():
            raise PlanError(f"test directory {directory} does not exist", file=str(directory))
    step_timeout = float(timeout if timeout is not None else settings.get("timeout", 30))
    tests = tuple(test for directory in test_dirs
                  for test in _tests(directory, step_timeout, notes))
    crds = _objects_under(root, settings.get("crdDir"), notes)
    manifests = tuple(obj for d in settings.get("manifestDirs") or []
                      for obj in _objects_under(root, d, notes))
    name = (root.resolve().name if config else
            ",".join(p.resolve().name for p in paths))
    return model.Suite(
        name=name, format="kuttl", root=root, tests=tests, timeout=step_timeout,
        namespace=str(settings.get("namespace") or ""),
        parallel=int(settings.get("parallel") or 8),
        skip_delete=bool(settings.get("skipDelete", False)),
        crds=crds, manifests=manifests,
        commands=tuple(settings.get("commands") or ()), notes=tuple(notes))


def _config_file(paths: list[Path]) -> Path | None:
    if len(paths) == 1:
        if paths[0].is_file():
            return paths[0]
        if (paths[0] / CONFIG).is_file():
            return paths[0] / CONFIG
    return None


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def _tests(directory: Path, timeout: float, notes: list[model.Note]) -> list[model.Test]:
    found = []
    for test_dir in _subdirs(directory):
        steps = _steps(test_dir, timeout, notes)
        if steps:
            found.append(model.Test(test_dir.name, f"{directory.resolve().name}/{test_dir.name}",
                                    test_dir, tuple(steps)))
    return found


def _steps(test_dir: Path, timeout: float, notes: list[model.Note]) -> list[model.Step]:
    grouped: dict[int, list[Path]] = {}
    for entry in sorted(test_dir.iterdir()):
        matched = STEP_FILE.match(entry.name)
        if not matched:
            continue  # kuttl ignores them too: data files, READMEs
        files = sorted(p for p in entry.iterdir() if p.is_file()) if entry.is_dir() else [entry]
        grouped.setdefault(int(matched.group(1)), []).extend(files)
    return [_step(test_dir, index, files, timeout, notes)
            for index, files in sorted(grouped.items())]


def _step(test_dir: Path, index: int, files: list[Path], timeout: float,
          notes: list[model.Note]) -> model.Step:
    name = ""
    parts: dict[str, list[Any]] = {"apply": [], "asserts": [], "errors": []}
    step_settings: dict[str, Any] = {}
    assert_settings: dict[str, Any] = {}
    for file in files:
        role = FILE_ROLE.match(file.name)
        if role is None:
            raise PlanError(f"{file.name} is not a step file name kuttl reads "
                            "(NN-name.yaml)", file=str(file))
        kind = role.group(1).lower()
        for tree in documents(file):
            obj = yamltext.plain(tree)
            special = _kuttl_kind(obj)
            if special == "TestStep" and kind not in ("assert", "errors"):
                if step_settings:
                    raise PlanError(f"more than one TestStep in step {index}", file=str(file),
                                    line=_line(tree))
                step_settings = kuttl_fields.step_settings(file, tree, notes)
            elif special == "TestAssert" and kind == "assert":
                assert_settings = kuttl_fields.assert_settings(file, tree, notes)
            elif special is not None:
                notes.append(model.Note(str(file), _line(tree),
                                        f"{special} objects are not supported; not read"))
            else:
                parts[{"assert": "asserts", "errors": "errors"}.get(kind, "apply")].append(obj)
        if kind not in ("assert", "errors") and not name:
            name = role.group(1) + (role.group(2) or "")
    if step_settings.get("name"):
        name = step_settings["name"]
    for key, target in (("apply", "apply"), ("assert", "asserts"), ("error", "errors")):
        for given in step_settings.get(key) or []:
            parts[target].extend(_objects_under(test_dir, given, notes))
    assert_timeout = assert_settings.get("timeout")
    return model.Step(
        index=index, name=name, files=tuple(str(f) for f in files),
        apply=tuple(parts["apply"]), asserts=tuple(parts["asserts"]),
        errors=tuple(parts["errors"]), delete=tuple(step_settings.get("delete") or ()),
        commands=tuple(step_settings.get("commands") or ()),
        assert_commands=tuple(assert_settings.get("commands") or ()),
        collectors=tuple(assert_settings.get("collectors") or ()),
        timeout=float(assert_timeout) if assert_timeout else timeout)


def _kuttl_kind(obj: Any) -> str | None:
    if isinstance(obj, dict) and str(obj.get("apiVersion", "")).startswith(KUTTL_GROUPS):
        return str(obj.get("kind"))
    return None


def _objects_under(base: Path, given: Any, notes: list[model.Note]) -> tuple[Any, ...]:
    """The objects of a file, or of a directory's ``*.yaml`` files (kuttl's apply paths)."""
    if not given:
        return ()
    text = os.path.expandvars(str(given))
    if re.match(r"^https?://", text):
        notes.append(model.Note(str(base), None, f"{text}: URLs are not fetched; not applied"))
        return ()
    path = Path(text) if os.path.isabs(text) else base / text
    if path.is_dir():
        files = sorted(path.glob("*.yaml"))
    elif path.is_file():
        files = [path]
    else:
        raise PlanError(f"{text} does not exist (relative to {base})", file=str(base))
    return tuple(yamltext.plain(tree) for file in files for tree in documents(file))


def documents(file: Path) -> list[Any]:
    """The non-empty documents of a YAML file, with positions."""
    from phasegate.plan import yamltree

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read: {exc}", file=str(file)) from None
    try:
        documents = yamltree.build_all(text)
    except yamltree.TreeError as exc:
        raise PlanError(exc.problem, file=str(file), line=exc.line + 1,
                        column=exc.column + 1) from None
    except Exception as exc:  # libyaml's scanner and parser errors carry a mark
        mark = getattr(exc, "problem_mark", None)
        raise PlanError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                        file=str(file), line=mark.line + 1 if mark else None,
                        column=mark.column + 1 if mark else None) from None
    found = []
    for tree in documents:
        if tree is None:
            continue
        if not isinstance(tree, dict):
            raise PlanError("expected a Kubernetes object (a mapping)", file=str(file),
                            line=_line(tree))
        found.append(tree)
    return found


def _line(tree: Any) -> int | None:
    lc = getattr(tree, "lc", None)
    return lc.line + 1 if lc is not None else None
