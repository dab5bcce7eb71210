"""What a phase applies: the one home of rendered objects.

Every stage reads a phase's objects here (image discovery and divergence in R, preview and
hash in P, apply and rollback journal in I, rehearsal in V): manifest files and directories
are parsed, rendered sources (``kube.sources``: Kustomize, later Helm) rendered, then
inputs substituted, in the order an apply needs them (CRDs, then Namespaces, then the rest).
Each object keeps its source (``file#document``, ``overlay-dir#document``)."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.errors import PlanError
from phasegate.kube import sources as kube_sources
from phasegate.kube.client import Json
from phasegate.plan import manifest_files

ORDER = {"CustomResourceDefinition": 0, "Namespace": 1}


@dataclass(frozen=True)
class Manifest:
    obj: Json
    source: str  # file (or rendering source) and document number, for errors and evidence

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


@dataclass(frozen=True)
class Document:
    """One YAML document as written or rendered: before inputs, a List not yet expanded."""

    data: Any
    source: str  # file#document


def load(sources: Sequence[kube_sources.Source], base_dir: Path,
         inputs: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object of ``sources``, ordered for applying.

    A run reads the same sources several times (checked, previewed, applied): each text's
    objects are kept while its content (and the inputs) stay the same, so it is parsed
    once, and a rendered source is rendered once. The objects returned are shared:
    callers copy before changing one."""
    inputs_key = json.dumps(inputs or {}, sort_keys=True, default=str)
    manifests: list[Manifest] = []
    for origin, text in _texts(sources, base_dir):
        manifests += _text_objects(origin, text, inputs or {}, inputs_key)
    return sorted(manifests, key=lambda m: ORDER.get(m.kind, 2))


def documents(sources: Sequence[kube_sources.Source], base_dir: Path) -> list[Document]:
    """Every document of ``sources`` as written, in source order (image discovery reads
    these: a reference whose input is missing is skipped there, not refused)."""
    found: list[Document] = []
    for origin, text in _texts(sources, base_dir):
        found += _text_documents(origin, text)[1]
    return found


def _texts(sources: Sequence[kube_sources.Source], base_dir: Path) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for source in sources:
        if isinstance(source, str):
            texts += [(str(file), _read(file)) for file in manifest_files.files([source],
                                                                                 base_dir)]
        else:
            texts += [(r.source, r.text) for r in source.render(base_dir)]
    return texts


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read manifest: {exc}", file=str(file)) from None


_CACHE: OrderedDict[tuple[str, str, str], list[Manifest]] = OrderedDict()
_DOCUMENTS: OrderedDict[tuple[str, str], tuple[str, list[Document]]] = OrderedDict()
CACHE_OBJECTS = 20_000  # beyond this many cached objects the oldest texts are forgotten


def _text_objects(origin: str, text: str, inputs: dict[str, Any],
                  inputs_key: str) -> list[Manifest]:
    # keyed by content, not modification time: an edit within the clock's granularity counts
    digest, documents = _text_documents(origin, text)
    key = (origin, digest, inputs_key)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    found = _objects(documents, inputs)
    _CACHE[key] = found
    _trim(_CACHE)
    return found


def _text_documents(origin: str, text: str) -> tuple[str, list[Document]]:
    """(content digest, documents) of one text, parsed once per content."""
    from phasegate.plan import yamltext

    key = (origin, hashlib.sha256(text.encode()).hexdigest())
    if key in _DOCUMENTS:
        _DOCUMENTS.move_to_end(key)
        return _DOCUMENTS[key]
    found = []
    for index, document in enumerate(_documents(text, origin)):
        if document is None:
            continue
        source = f"{origin}#{index + 1}"
        if "*" in text:  # no alias without a '*'
            yamltext.refuse_alias_bombs(document, source)
        found.append(Document(yamltext.plain(document), source))
    _DOCUMENTS[key] = (key[1], found)
    _trim(_DOCUMENTS)
    return key[1], found


def _trim(cache: OrderedDict[Any, Any]) -> None:
    def size(value: Any) -> int:
        return len(value[1]) if isinstance(value, tuple) else len(value)

    while sum(size(v) for v in cache.values()) > CACHE_OBJECTS and len(cache) > 1:
        cache.popitem(last=False)


def _objects(documents: list[Document], inputs: dict[str, Any]) -> list[Manifest]:
    from phasegate.plan import inputs as plan_inputs

    manifests: list[Manifest] = []
    for document in documents:
        source = document.source
        try:
            data = _substitute(document.data, inputs, plan_inputs)
        except plan_inputs.MissingInput as exc:
            raise PlanError(str(exc), file=source) from None
        for obj in _expand(data):
            if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
                raise PlanError("a manifest needs apiVersion and kind", file=source)
            if not (obj.get("metadata") or {}).get("name"):
                raise PlanError(f"{obj['kind']} has no metadata.name", file=source)
            manifests.append(Manifest(obj, source))
    return manifests


def _documents(text: str, origin: str) -> list[Any]:
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
        raise PlanError(f"YAML syntax error: {getattr(exc, 'problem', exc)}", file=origin,
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
