"""Manifests from files and directories: multi-document YAML, inputs substituted, in the
order an apply needs them (CRDs, then Namespaces, then the rest)."""

from __future__ import annotations

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
    """Every object in ``paths``, ordered for applying."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from phasegate.plan import inputs as plan_inputs
    from phasegate.plan import yamltext

    manifests: list[Manifest] = []
    for file in manifest_files.files(paths, base_dir):
        try:
            documents = list(YAML(typ="safe").load_all(file.read_text(encoding="utf-8")))
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise PlanError(f"YAML syntax error: {getattr(exc, 'problem', exc)}", file=str(file),
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanError(f"cannot read manifest: {exc}", file=str(file)) from None
        for index, document in enumerate(documents):
            if document is None:
                continue
            source = f"{file}#{index + 1}"
            yamltext.refuse_alias_bombs(document, source)
            try:
                document = _substitute(yamltext.plain(document), inputs or {}, plan_inputs)
            except plan_inputs.MissingInput as exc:
                raise PlanError(str(exc), file=source) from None
            for obj in _expand(document):
                if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
                    raise PlanError("a manifest needs apiVersion and kind", file=source)
                if not (obj.get("metadata") or {}).get("name"):
                    raise PlanError(f"{obj['kind']} has no metadata.name", file=source)
                manifests.append(Manifest(obj, source))
    return sorted(manifests, key=lambda m: ORDER.get(m.kind, 2))


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
    return node
