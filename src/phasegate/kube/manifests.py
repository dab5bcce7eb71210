"""Manifests from files and directories: multi-document YAML, inputs substituted, in the
order an apply needs them (CRDs, then Namespaces, then the rest)."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.kube.client import Json
from phasegate.plan import manifest_files

ORDER = {"CustomResourceDefinition": 0, "Namespace": 1}


@dataclass(frozen=True)
class Manifest:
    obj: Json
    source: str  # file and document number, for errors and evidence

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


def load(paths: list[str], base_dir: Path, inputs: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object in ``paths``, ordered for applying.

    A run reads the same files several times (checked, previewed, applied): each file's
    objects are kept while its content (and the inputs) stay the same, so it is parsed
    once. The objects returned are shared: callers copy before changing one."""
    inputs_key = json.dumps(inputs or {}, sort_keys=True, default=str)
    manifests: list[Manifest] = []
    for file in manifest_files.files(paths, base_dir):
        manifests += _file_objects(file, inputs or {}, inputs_key)
    return sorted(manifests, key=lambda m: ORDER.get(m.kind, 2))


_CACHE: OrderedDict[tuple[str, str, str], list[Manifest]] = OrderedDict()
CACHE_OBJECTS = 20_000  # beyond this many cached objects the oldest files are forgotten


def _file_objects(file: Path, inputs: dict[str, Any], inputs_key: str) -> list[Manifest]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read manifest: {exc}", file=str(file)) from None
    # keyed by content, not modification time: an edit within the clock's granularity counts
    key = (str(file), hashlib.sha256(text.encode()).hexdigest(), inputs_key)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    found = _parse(text, file, inputs)
    _CACHE[key] = found
    while sum(len(v) for v in _CACHE.values()) > CACHE_OBJECTS and len(_CACHE) > 1:
        _CACHE.popitem(last=False)
    return found


def _parse(text: str, file: Path, inputs: dict[str, Any]) -> list[Manifest]:
    from phasegate.plan import inputs as plan_inputs
    from phasegate.plan import yamltext

    manifests: list[Manifest] = []
    for index, document in enumerate(_documents(text, file)):
        if document is None:
            continue
        source = f"{file}#{index + 1}"
        if "*" in text:  # no alias without a '*'
            yamltext.refuse_alias_bombs(document, source)
        try:
            document = _substitute(yamltext.plain(document), inputs, plan_inputs)
        except plan_inputs.MissingInput as exc:
            raise PlanError(str(exc), file=source) from None
        for obj in _expand(document):
            if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
                raise PlanError("a manifest needs apiVersion and kind", file=source)
            if not (obj.get("metadata") or {}).get("name"):
                raise PlanError(f"{obj['kind']} has no metadata.name", file=source)
            manifests.append(Manifest(obj, source))
    return manifests


def _documents(text: str, file: Path) -> list[Any]:
    """The file's documents, read by libyaml (``yamltree``: YAML 1.2 scalars, as ruamel
    reads them, about ten times faster on a 1,000-object file); what libyaml refuses goes
    to ruamel, whose error messages users know."""
    import yaml
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from phasegate.plan import yamltree

    try:
        return yamltree.build_all(text)
    except (yaml.YAMLError, yamltree.TreeError):
        pass
    try:
        return list(YAML(typ="safe").load_all(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlanError(f"YAML syntax error: {getattr(exc, 'problem', exc)}", file=str(file),
                        line=mark.line + 1 if mark else None,
                        column=mark.column + 1 if mark else None) from None


def _expand(document: Any) -> list[Any]:
    if isinstance(document, dict) and str(document.get("kind", "")).endswith("List"):
        return list(document.get("items") or [])
    return [document]


def _substitute(node: Any, values: dict[str, Any], plan_inputs: Any) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, values, plan_inputs) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values, plan_inputs) for v in node]
    if isinstance(node, str) and "${" in node:
        return plan_inputs.substitute(node, values)
    if type(node) in _PLAIN or isinstance(node, bool) or node is None:
        return node
    # ruamel's round-trip scalars (HexInt, ScalarFloat, TimeStamp): the plain value
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, datetime.datetime):
        return datetime.datetime.combine(node.date(), node.timetz())
    return node


_PLAIN = (str, int, float, datetime.date, datetime.datetime)
