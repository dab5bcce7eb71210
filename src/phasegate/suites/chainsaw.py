"""Chainsaw suites, loaded as Chainsaw reads them: every ``chainsaw-test.yaml`` (else
``chainsaw-test.yml``) under the directories given holds Tests, whose steps are ``try``
operations, then ``catch`` (when one failed), ``finally`` and ``cleanup``. Operations and
defaults are Chainsaw's, and so is their language (bindings, templating, assertion trees,
``check``, ``outputs``, ``expect``: evaluated when the test runs); what phasegate does not
do (clusters, functions it lacks, ``$values`` without ``--values``) is named with its file
and line; a Test that says ``skip: true`` is reported skipped. ``compiler: cel`` (on a test,
step, operation or binding) makes the ``(…)`` under it CEL, as in Chainsaw."""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.plan import yamltext
from phasegate.probes import expressions
from phasegate.suites import chainsaw_use, kuttl, model

FILE = "chainsaw-test.yaml"
FILES = (FILE, "chainsaw-test.yml")  # Chainsaw tries .yaml first, .yml if needed
GROUP = "chainsaw.kyverno.io/"
# Chainsaw's default timeouts, by operation
TIMEOUTS = {"apply": 5.0, "create": 5.0, "patch": 5.0, "update": 5.0, "assert": 30.0,
            "error": 30.0, "delete": 15.0, "cleanup": 30.0, "exec": 5.0}
RESOURCE_OPS = ("apply", "create", "patch", "update", "assert", "error", "delete")
EXEC_OPS = ("command", "script")
COLLECT_OPS = ("events", "describe", "get", "podLogs")
NOT_DONE_TEST = {"cluster": "clusters are not supported", "clusters": "clusters are not "
                 "supported", "failFast": "not supported",
                 "forceTerminationGracePeriod": "not supported", "delayBeforeCleanup":
                 "not supported", "deletionPropagationPolicy": "not supported"}
# fastNamespaceDeletion: phasegate never waits for a test's namespace to go
TEST_READ = {"description", "steps", "timeouts", "namespace", "skipDelete", "concurrent",
             "skip", "bindings", "template", "catch", "namespaceTemplate",
             "fastNamespaceDeletion", "scenarios", "compiler"}
STEP_READ = {"name", "description", "try", "catch", "finally", "cleanup", "timeouts",
             "bindings", "template", "compiler"}
# bindings Chainsaw gives from its command line, when they were not given
UNBOUND = {"values": "given by --values FILE (as chainsaw test --values); none was given"}
BODY_NOT_DONE = ("cluster", "clusters")
# what phasegate reads of an operation's body (skip*Output only quiets Chainsaw's log);
# any other field is named, never silently dropped
_LANGUAGE = {"timeout", "bindings", "outputs", "template", *BODY_NOT_DONE}
BODY_READ = {
    **{key: {"file", "resource", "expect"} for key in ("apply", "create", "update")},
    "patch": {"file", "resource", "expect", "subresource"},
    **{key: {"file", "resource"} for key in ("assert", "error")},
    "delete": {"file", "resource", "ref", "expect"},
    "script": {"content", "env", "check", "skipLogOutput", "skipCommandOutput"},
    "command": {"entrypoint", "args", "env", "check", "skipLogOutput", "skipCommandOutput"},
}


def is_suite(path: Path) -> bool:
    return (path.is_file() and path.name in FILES) or (path.is_dir() and bool(_files(path)))


def _files(root: Path) -> list[Path]:
    """The test file of each directory under ``root``: its .yaml, else its .yml."""
    found = {file.parent: file for file in sorted(root.rglob(FILES[1]))}
    found.update({file.parent: file for file in sorted(root.rglob(FILE))})
    return sorted(found.values())


def load(paths: list[Path], timeout: float | None = None,
         values: model.Json | None = None) -> model.Suite:
    """``values``: what ``$values`` holds (``--values``); a test reading it without them is
    not run."""
    notes: list[model.Note] = []
    tests: list[model.Test] = []
    for root in paths:
        files = [root] if root.is_file() else _files(root)
        base = root.parent if root.is_file() else root
        for file in files:
            for tree in kuttl.documents(file):
                if not str(tree.get("apiVersion", "")).startswith(GROUP) or tree.get(
                        "kind") != "Test":
                    notes.append(model.Note(str(file), _line(tree), f"{tree.get('kind')} "
                                            "objects are not supported here; not read"))
                    continue
                before = len(notes)
                found = _test(file, base, tree, timeout, notes)
                if values is not None:  # $values is bound: reading it is no gap
                    notes[before:] = [n for n in notes[before:]
                                      if not n.what.endswith(UNBOUND["values"])]
                if found is not None and len(notes) > before:
                    found = dataclasses.replace(found, unsupported=tuple(
                        str(n) for n in notes[before:]))
                if found is not None:
                    if any(t.path == found.path for t in tests):  # two Tests, one name
                        found = dataclasses.replace(found, path=f"{found.path}-{len(tests)}")
                    tests.extend(_scenarios(file, found, tree.get("spec") or {}, notes))
    name = ",".join(p.resolve().name for p in paths)
    return model.Suite(name=name, format="chainsaw", root=paths[0], tests=tuple(tests),
                       timeout=timeout or TIMEOUTS["assert"], parallel=8,
                       notes=tuple(notes), values=values)


def _test(file: Path, base: Path, tree: Any, timeout: float | None,
          notes: list[model.Note]) -> model.Test | None:
    spec = tree.get("spec") or {}
    name = str((tree.get("metadata") or {}).get("name") or file.parent.name)
    for key in spec:
        if key == "cluster" and (spec[key] == "" or expressions.is_expression(spec[key])):
            continue  # the default cluster, or one known per scenario (_scenarios says)
        if key in NOT_DONE_TEST:
            notes.append(model.Note(str(file), _key_line(spec, key),
                                    f"Test.spec.{key}: {NOT_DONE_TEST[key]}"))
        elif key not in TEST_READ:
            notes.append(model.Note(str(file), _key_line(spec, key),
                                    f"Test.spec.{key}: unknown field; not read"))
    if spec.get("skip"):  # recorded as skipped, as Chainsaw reports it; nothing read
        return model.Test(name, _path(file, base, name), file.parent, (), skip=True)
    defaults = dict(TIMEOUTS)
    for key, value in (spec.get("timeouts") or {}).items():
        defaults[str(key)] = _seconds(file, spec["timeouts"], key, value)
    if timeout is not None:  # --timeout: every wait's, as Chainsaw's --assert-timeout
        defaults.update({k: timeout for k in ("assert", "error", "delete")})
    # a test's catch runs when any of its steps fails, after the step's own
    compiler = _compiler(spec, "")
    catch = tuple(_operation(file, item, defaults, notes, compiler)
                  for item in spec.get("catch") or [])
    steps = []
    for index, written in enumerate(spec.get("steps") or []):
        step = chainsaw_use.expand(file, written)
        if not isinstance(step, dict):
            raise PlanError("expected a step (try, catch, finally, cleanup)", file=str(file),
                            line=_line(spec["steps"]))
        for key in step:
            if key not in STEP_READ:
                notes.append(model.Note(str(file), _key_line(step, key),
                                        f"step.{key}: not supported; not read"))
        in_step = _compiler(step, compiler)
        ops = {part: tuple(_operation(file, item, defaults, notes, in_step)
                           for item in step.get(part) or [])
               for part in ("try", "catch", "finally", "cleanup")}
        steps.append(model.Step(
            index=index, name=str(step.get("name") or f"step-{index + 1}"), files=(str(file),),
            operations=ops["try"], catch=ops["catch"] + catch, finally_=ops["finally"],
            cleanup=ops["cleanup"], timeout=defaults["assert"],
            bindings=_bindings(file, step, notes, in_step),
            template=_flag(step.get("template"))))
    namespace_template = expressions.compiled_by(yamltext.plain(spec.get("namespaceTemplate")),
                                                 compiler)
    _language(file, namespace_template, "namespaceTemplate", notes)
    return model.Test(name, _path(file, base, name), file.parent, tuple(steps),
                      namespace=str(spec.get("namespace") or ""),
                      bindings=_bindings(file, spec, notes, compiler),
                      template=_flag(spec.get("template")) is not False,
                      namespace_template=namespace_template
                      if isinstance(namespace_template, dict) else None)


def _compiler(tree: Any, inherited: str) -> str:
    """The engine of the ``(…)`` under ``tree``: its ``compiler:``, else its parent's."""
    return str(tree.get("compiler") or inherited) if isinstance(tree, dict) else inherited


def _path(file: Path, base: Path, name: str) -> str:
    return f"{file.parent.resolve().relative_to(base.resolve().parent)}/{name}"


def _scenarios(file: Path, test: model.Test, spec: Any, notes: list[model.Note]
               ) -> list[model.Test]:
    """A test with ``scenarios`` runs once per scenario (``$test.scenarioId`` 1, 2…), the
    scenario's bindings before the test's; each is its own test, ``<path>/scenario-N``."""
    scenarios = spec.get("scenarios") or [None]
    runs = []
    for number, scenario in enumerate(scenarios, 1):
        run = test if scenario is None else dataclasses.replace(
            test, path=f"{test.path}/scenario-{number}", scenario=number,
            bindings=_bindings(file, scenario, notes, _compiler(spec, "")) + test.bindings)
        cluster = _cluster(spec, [*(scenario or {}).get("bindings", []),
                                  *(spec.get("bindings") or [])])
        if cluster:  # a cluster other than the suite's: named for this run
            note = model.Note(str(file), _key_line(spec, "cluster"),
                              f"Test.spec.cluster: {cluster}: clusters are not supported")
            notes.append(note)
            run = dataclasses.replace(run, unsupported=(*run.unsupported, str(note)))
        runs.append(run)
    return runs


def _cluster(spec: Any, bindings: list[Any]) -> str:
    """The cluster a test names, from constant bindings: "" is the suite's own."""
    written = spec.get("cluster")
    if written is None or written == "":
        return ""
    constants = chainsaw_use.constants(bindings)
    try:
        return str(expressions.value_of(written, None, constants) if constants else written)
    except expressions.ExpressionError:
        return str(written)


def _bindings(file: Path, tree: Any, notes: list[model.Note], compiler: str
              ) -> tuple[tuple[Any, Any], ...]:
    """``bindings:`` as (name, value) pairs, in order: each may read the ones before."""
    found = []
    for item in tree.get("bindings") or []:
        if not isinstance(item, dict) or "name" not in item:
            raise PlanError("a binding needs a name and a value", file=str(file),
                            line=_line(item))
        for key in item:
            if key not in ("name", "value", "compiler"):
                notes.append(model.Note(str(file), _key_line(item, key),
                                        f"binding.{key}: not supported; not read"))
        pair = expressions.compiled_by((yamltext.plain(item["name"]), yamltext.plain(
            item.get("value"))), _compiler(item, compiler))
        _language(file, pair, f"binding {item['name']}", notes, line=_line(item))
        found.append(pair)
    return tuple(found)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _operation(file: Path, item: Any, defaults: dict[str, float],
               notes: list[model.Note], compiler: str) -> model.Operation:
    if not isinstance(item, dict):
        raise PlanError("expected an operation", file=str(file))
    known = (*RESOURCE_OPS, *EXEC_OPS, *COLLECT_OPS, "sleep", "wait", "proxy")
    kinds = [k for k in item if k in known]
    for key in item:
        if key not in known and key not in ("description", "name", "compiler"):
            notes.append(model.Note(str(file), _key_line(item, key),
                                    f"operation.{key}: not supported; not read"))
    if len(kinds) != 1:
        raise PlanError(f"expected one operation, found {', '.join(kinds) or 'none'}",
                        file=str(file), line=_line(item))
    kind = kinds[0]
    body = item[kind] or {}
    where = f"{file}:{_key_line(item, kind)}"
    for key in body if isinstance(body, dict) else ():
        if key in BODY_NOT_DONE or (kind in BODY_READ and key not in BODY_READ[kind]
                                    and key not in _LANGUAGE):
            notes.append(model.Note(str(file), _key_line(body, key),
                                    f"{kind}.{key}: not supported; not read"))
    seconds = _seconds(file, body, "timeout", body["timeout"]) if isinstance(
        body, dict) and "timeout" in body else None
    compiler = _compiler(item, compiler)
    language = _language_of(file, body, kind, notes, compiler) if isinstance(
        body, dict) else {}
    if kind in RESOURCE_OPS and expressions.is_expression(body.get("file")):
        notes.append(model.Note(str(file), _key_line(item, kind), f"{kind}.file "
                                f"{body['file']}: a file named by bindings known only when "
                                "the test runs is not supported"))
        return model.Operation("unsupported", where=where)
    if kind in RESOURCE_OPS:
        objects = expressions.compiled_by(_objects(file, body, kind), compiler)
        for obj in objects:
            _language(file, obj, kind, notes, line=_key_line(item, kind))
            if not isinstance(obj, dict) or (not obj.get("kind") and kind not in (
                    "assert", "error")):
                notes.append(model.Note(str(file), _key_line(item, kind), f"{kind}: an "
                                        "object without a kind is not supported"))
        return model.Operation(kind, objects, timeout=seconds or defaults.get(kind, 30.0),
                               where=where, subresource=str(body.get("subresource") or ""),
                               **language)
    if kind in EXEC_OPS:
        if kind == "script":
            command = model.Command(script=str(body.get("content") or ""))
        else:
            argv = [str(body.get("entrypoint") or ""), *(str(a) for a in body.get("args") or [])]
            command = model.Command(command=" ".join(_quoted(a) for a in argv))
        return model.Operation(kind, command=command,
                               timeout=seconds or defaults["exec"], where=where, **language)
    if kind == "sleep":
        return model.Operation(kind, seconds=_seconds(file, body, "duration",
                                                      body.get("duration")), where=where)
    if kind in COLLECT_OPS or kind == "wait":
        return model.Operation(kind, command=model.Command(script=_kubectl(kind, body)),
                               timeout=seconds or 30.0, where=where)
    notes.append(model.Note(str(file), _key_line(item, kind),
                            f"operation {kind}: not supported; not run"))
    return model.Operation("unsupported", where=where)


def _objects(file: Path, body: Any, kind: str) -> tuple[Any, ...]:
    if "resource" in body:
        return _items((yamltext.plain(body["resource"]),))
    if "file" in body:
        pattern = str(file.parent / str(body["file"]))
        matched = sorted(glob.glob(pattern)) or [pattern]
        found = []
        for path in matched:
            if not Path(path).is_file():
                raise PlanError(f"{kind}: {body['file']} does not exist", file=str(file))
            found += [yamltext.plain(tree) for tree in kuttl.documents(Path(path))]
        return _items(tuple(found))
    if kind == "delete" and "ref" in body:
        ref = yamltext.plain(body["ref"])
        meta = {k: ref[k] for k in ("name", "namespace") if ref.get(k)}
        if ref.get("labels"):
            meta["labels"] = ref["labels"]
        return ({"apiVersion": ref.get("apiVersion", ""), "kind": ref.get("kind", ""),
                 "metadata": meta},)
    raise PlanError(f"{kind}: expected file, resource" + (" or ref" if kind == "delete"
                                                           else ""), file=str(file))


def _items(found: tuple[Any, ...]) -> tuple[Any, ...]:
    """A ``v1/List`` stands for its items, as Chainsaw reads it."""
    out: list[Any] = []
    for obj in found:
        if isinstance(obj, dict) and obj.get("kind") == "List" and isinstance(
                obj.get("items"), list):
            out.extend(obj["items"])
        else:
            out.append(obj)
    return tuple(out)


def _language_of(file: Path, body: Any, kind: str, notes: list[model.Note], compiler: str
                 ) -> dict[str, Any]:
    """The operation's bindings, templating, env, check and outputs, as Operation fields."""

    def plain(tree: Any) -> Any:
        return expressions.compiled_by(yamltext.plain(tree), compiler)

    found: dict[str, Any] = {"bindings": _bindings(file, body, notes, compiler),
                             "template": _flag(body.get("template"))}
    env = []
    for item in body.get("env") or []:
        pair = (plain(item.get("name")), plain(item.get("value")))
        _language(file, pair, f"{kind}.env", notes, line=_line(item))
        env.append(pair)
    found["env"] = tuple(env)
    if "check" in body:
        found["check"] = plain(body["check"])
        _language(file, found["check"], f"{kind}.check", notes, line=_key_line(body, "check"))
    outputs = []
    for item in body.get("outputs") or []:
        output = (plain(item.get("name")), plain(item.get("value")), plain(item.get("match")))
        _language(file, output, f"{kind}.outputs", notes, line=_line(item))
        outputs.append(output)
    found["outputs"] = tuple(outputs)
    expect = []
    for item in body.get("expect") or []:
        pair = (plain(item.get("match")), plain(item.get("check")))
        _language(file, pair, f"{kind}.expect", notes, line=_line(item))
        expect.append(pair)
    found["expect"] = tuple(expect)
    return found


def _language(file: Path, tree: Any, what: str, notes: list[model.Note],
              line: int | None = None) -> None:
    """Expressions phasegate cannot evaluate (another engine, a function it does not
    have, a statement that does not parse) and bindings it cannot give are named."""
    for problem in expressions.problems(tree):
        notes.append(model.Note(str(file), line, f"{what}: {problem}"))
    for name in sorted(expressions.variables(tree) & set(UNBOUND)):
        notes.append(model.Note(str(file), line, f"{what}: ${name}: {UNBOUND[name]}"))


def _kubectl(kind: str, body: Any) -> str:
    resource = str(body.get("resource") or body.get("kind") or "").lower()
    name = str(body.get("name") or "")
    target = f"{resource} {name}".strip() or "all"
    if kind == "events":
        return "kubectl get events --namespace \"$NAMESPACE\""
    if kind == "podLogs":
        which = name or f"-l {body.get('selector', '')}"
        return f"kubectl logs --prefix --all-containers {which} --namespace \"$NAMESPACE\""
    if kind == "wait":
        wanted = body.get("for") or {}
        if "condition" in wanted:
            condition = wanted["condition"]
            what = (f"condition={condition.get('name')}" + (
                f"={condition['value']}" if condition.get("value") is not None else "")
                if isinstance(condition, dict) else f"condition={condition}")
        elif "deletion" in wanted:
            what = "delete"
        elif "creation" in wanted:
            what = "create"
        elif "jsonPath" in wanted:
            path = wanted["jsonPath"]
            what = f"jsonpath={{{path.get('path')}}}={path.get('value')}"
        else:
            what = "condition=Ready"
        which = target if name else f"{resource} --all" if not body.get("selector") else (
            f"{resource} -l {body['selector']}")
        timeout = body.get("timeout") or "30s"
        return (f"kubectl wait --for='{what}' {which} --namespace \"$NAMESPACE\" "
                f"--timeout={timeout}")
    verb = "describe" if kind == "describe" else "get"
    return f"kubectl {verb} {target} --namespace \"$NAMESPACE\"" + (
        " -o yaml" if kind == "get" else "")


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _seconds(file: Path, tree: Any, key: Any, value: Any) -> float:
    from phasegate.durations import parse_duration

    try:
        return parse_duration(str(value))
    except ValueError as exc:
        place = yamltext.locate(tree, (key,))
        raise PlanError(f"{key}: {exc}", file=str(file),
                        line=place[0] if place else None) from None


def _line(tree: Any) -> int | None:
    lc = getattr(tree, "lc", None)
    return lc.line + 1 if lc is not None else None


def _key_line(tree: Any, key: Any) -> int | None:
    place = yamltext.locate(tree, (key,), at_key=True)
    return place[0] if place else None
