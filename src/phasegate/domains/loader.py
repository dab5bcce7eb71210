"""Loading ``domains.yaml``: text → located errors or a validated :class:`DomainsFile`.

Every failure is a :class:`PlanError` naming file, line, column and the path in the
document, as for plans (the same YAML-with-positions and message helpers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasegate.domains import graph, model
from phasegate.domains.model import DomainsFile
from phasegate.errors import PlanError
from phasegate.plan import inputs as plan_inputs
from phasegate.plan import messages, probe_call, yamltext

DEFAULT_FILE = "domains.yaml"
POLICY_HELP = "expected a policy: all, {quorum: N} or {degraded_below: N} (N ≥ 1)"
_EXAMPLE = "a domains file starts with 'apiVersion: phasegate/v1' and 'kind: Domains'"


def load_domains(path: str | Path) -> DomainsFile:
    """Read and validate the domains file at ``path``; its plans resolve against its folder."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError("domains file not found", file=str(path)) from None
    except IsADirectoryError:
        raise PlanError("is a directory, not a domains file", file=str(path)) from None
    except OSError as exc:
        raise PlanError(f"cannot read domains file: {exc.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(f"is not UTF-8 text (byte {exc.start} cannot be decoded); {_EXAMPLE}",
                        file=str(path)) from None
    return loads_domains(text, filename=str(path), source=path)


def loads_domains(text: str, filename: str = "<domains>",
                  source: Path | None = None) -> DomainsFile:
    """Validate domains ``text``; ``filename`` only names the place of errors."""
    if "\0" in text:
        raise PlanError(f"is a binary file, not YAML; {_EXAMPLE}", file=filename)
    if not text.strip():
        raise PlanError(f"the file is empty; {_EXAMPLE}", file=filename)
    tree = yamltext.parse(text, filename)
    if not isinstance(tree, dict):
        shown = "nothing" if tree is None else f"a {type(tree).__name__}"
        raise PlanError(f"expected a mapping at the top, found {shown}; {_EXAMPLE}",
                        file=filename, line=1, column=1)
    try:
        document = _substitute(yamltext.plain(tree), (), tree, filename)
        _build_probe_calls(tree, document, filename)
        loaded = _validate(tree, document, filename)
    except RecursionError:
        raise PlanError("the document nests too deeply (a recursive YAML alias?)",
                        file=filename) from None
    _check_policies(loaded, tree, filename)
    _check_dependencies(loaded, tree, filename)
    loaded._source = source.resolve() if source else None
    return loaded


def _substitute(node: Any, path: tuple[Any, ...], tree: Any, filename: str) -> Any:
    """``${env:NAME}`` read from the environment, as in plans (a secret: masked wherever it
    would be shown); a domains file takes no ``--input``."""
    if isinstance(node, dict):
        return {key: _substitute(value, (*path, key), tree, filename)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(item, (*path, i), tree, filename) for i, item in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        try:
            return plan_inputs.substitute(node, {})
        except plan_inputs.MissingInput as exc:
            message = str(exc)
            if "${input." in node:
                message = "a domains file takes no inputs: read a value with ${env:NAME}"
            raise yamltext.located(message, tree, path, filename) from None
    return node


def _build_probe_calls(tree: Any, document: dict[str, Any], filename: str) -> None:
    """Each health probe mapping becomes a ProbeCall in place, so its errors keep their place."""
    domains = document.get("domains")
    if not isinstance(domains, dict):
        return  # validation says what is wrong with it
    for name, domain in domains.items():
        probes = domain.get("health") if isinstance(domain, dict) else None
        if not isinstance(probes, list):
            continue
        for index, mapping in enumerate(probes):
            try:
                probes[index] = probe_call.build(mapping)
            except probe_call.ProbeCallError as exc:
                where = ("domains", name, "health", index, *exc.loc)
                shown = where[:-1] if exc.at_key and len(exc.loc) == 1 else where
                raise yamltext.located(str(exc), tree, where, filename, exc.suggestion,
                               at_key=exc.at_key, shown_path=shown) from None


def _validate(tree: Any, document: dict[str, Any], filename: str) -> DomainsFile:
    from pydantic import ValidationError

    try:
        return DomainsFile.model_validate(document)
    except ValidationError as exc:
        loc, error, others = messages.pick(exc.errors(), document)
        suggestion = None
        if error["type"] == "extra_forbidden":
            holder = model.model_at(loc[:-1])
            suggestion = messages.suggest_field(holder, str(loc[-1])) if holder else None
        message = messages.describe(error)
        if len(loc) == 2 and loc[0] == "domains" and error["type"] == "string_pattern_mismatch":
            message = (f"domain name {loc[1]!r} must be lowercase letters, digits, '.', '_' "
                       "or '-', starting and ending with a letter or digit")
        if loc[:1] == ("domains",) and loc[2:3] == ("policy",):  # one message, not a union's
            loc, message, suggestion = loc[:3], POLICY_HELP, None
            others = len({messages.clean_loc(document, e["loc"], e["type"])[:3]
                          for e in exc.errors()}) - 1
        if others:
            message += f" (and {others} more problem{'s' if others > 1 else ''})"
        at_key = ((error["type"] == "extra_forbidden" and message != POLICY_HELP)
                  or (len(loc) == 2 and loc[0] == "domains"))  # a domain's name is its key
        raise yamltext.located(message, tree, loc, filename, suggestion, at_key=at_key) from None


def _check_policies(loaded: DomainsFile, tree: Any, filename: str) -> None:
    for name, domain in loaded.domains.items():
        count = model.needed(domain.policy)
        if count > len(domain.health):
            probes = f"{len(domain.health)} health probe{'s' if len(domain.health) != 1 else ''}"
            raise yamltext.located(f"the policy needs {count} passing probes but the domain has "
                           f"{probes}", tree, ("domains", name, "policy"), filename)


def _check_dependencies(loaded: DomainsFile, tree: Any, filename: str) -> None:
    for name, domain in loaded.domains.items():
        for index, needed in enumerate(domain.depends_on):
            if needed not in loaded.domains:
                path: tuple[Any, ...] = ("domains", name, "depends_on", index)
                if not isinstance(tree["domains"][name]["depends_on"], list):
                    path = path[:-1]
                raise yamltext.located(f"unknown domain {needed!r}", tree, path, filename,
                               _suggest(needed, list(loaded.domains)))
            if needed == name:
                raise yamltext.located(f"domain {name!r} depends on itself", tree,
                               ("domains", name, "depends_on"), filename)
    cycle = graph.find_cycle({name: d.depends_on for name, d in loaded.domains.items()})
    if cycle:
        raise yamltext.located("dependency cycle: " + " → ".join([*cycle, cycle[0]]), tree,
                       ("domains", cycle[0], "depends_on"), filename)


def _suggest(wrong: str, names: list[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(wrong, names, n=1, cutoff=0.6)
    return matches[0] if matches else None

