"""Which domains a change touches: the files of a real ``git diff`` mapped to domains by
their ``paths`` globs (and their plan files), for a CI matrix."""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.domains import graph
from phasegate.domains.model import DomainsFile
from phasegate.errors import PlanError

GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Affected:
    base: str
    head: str
    merge_base: str
    files: tuple[str, ...]
    domains: dict[str, tuple[str, ...]]  # domain → the changed files that are its own
    through: dict[str, tuple[str, ...]]  # domain → the affected domains it depends on
    unowned: tuple[str, ...]
    repo: Path

    def to_dict(self, loaded: DomainsFile) -> dict[str, Any]:
        """The --json document; ``matrix`` is a CI matrix (GitHub's ``include`` form): per
        domain its owner and its plans, relative to the repository's top."""
        names = [*self.domains, *self.through]
        include = [{"domain": name, "owner": loaded.domains[name].owner,
                    "plans": self.plans(loaded, name)} for name in names]
        return {"base": self.base, "head": self.head, "merge_base": self.merge_base,
                "domains": names,
                "files": {name: list(files) for name, files in self.domains.items()},
                "through": {name: list(deps) for name, deps in self.through.items()},
                "unowned": list(self.unowned), "changed": len(self.files),
                "matrix": {"include": include}}

    def plans(self, loaded: DomainsFile, name: str) -> list[str]:
        top = self.repo.resolve()
        return [path.relative_to(top).as_posix() if path.is_relative_to(top) else str(path)
                for path in loaded.plan_paths(name)]


def affected(loaded: DomainsFile, base: str, head: str = "HEAD", *,
             with_dependents: bool = False) -> Affected:
    """Files changed on ``head`` since it forked from ``base`` (``git diff base...head``),
    and the domains they belong to. With ``with_dependents``, every domain that depends on
    an affected one (directly or not) too: its gates ask what changed."""
    repo = _toplevel(loaded.base_dir)
    merge_base = _git(repo, "merge-base", base, head, what=f"--base {base!r} and {head!r}")
    files = tuple(_changed(repo, merge_base, head))
    owned: dict[str, list[str]] = {}
    unowned = []
    patterns = {name: _patterns(loaded, name, repo) for name in loaded.domains}
    for path in files:
        owners = [name for name, globs in patterns.items() if any(g(path) for g in globs)]
        for name in owners:
            owned.setdefault(name, []).append(path)
        if not owners:
            unowned.append(path)
    through: dict[str, tuple[str, ...]] = {}
    if with_dependents:
        edges = {name: d.depends_on for name, d in loaded.domains.items()}
        for name in graph.order(edges):
            if name in owned:
                continue
            needed = graph.needed_by(edges, [name])[:-1]
            hit = tuple(d for d in needed if d in owned)
            if hit:
                through[name] = hit
    ordered = {name: tuple(owned[name]) for name in loaded.domains if name in owned}
    return Affected(base, head, merge_base, files, ordered, through, tuple(unowned), repo)


def _toplevel(folder: Path) -> Path:
    return Path(_git(folder, "rev-parse", "--show-toplevel",
                     what=f"the folder of the domains file ({folder})"))


def _changed(repo: Path, merge_base: str, head: str) -> list[str]:
    # --no-renames: a file moved out of a domain changes that domain too (old and new path)
    out = _git(repo, "diff", "--name-only", "-z", "--no-renames", "--no-relative",
               merge_base, head, "--", what=f"the diff to {head!r}", strip=False)
    return sorted({name for name in out.split("\0") if name})


def _git(folder: Path, *args: str, what: str, strip: bool = True) -> str:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise PlanError("git is not installed: 'domains affected' reads a git diff") from None
    except subprocess.TimeoutExpired:
        raise PlanError(f"git {args[0]} gave no answer within {GIT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        reason = " ".join(done.stderr.split()) or f"exit {done.returncode}"
        hint = ""
        if args[0] == "merge-base" and done.returncode == 1:
            reason = "they have no common ancestor here"
            hint = " (a shallow clone? fetch the history: fetch-depth: 0)"
        raise PlanError(f"{what}: {reason}{hint}")
    return done.stdout.strip() if strip else done.stdout


def _patterns(loaded: DomainsFile, name: str, repo: Path) -> list[Any]:
    """Matchers of the domain's paths (repository globs) and of its plan files."""
    domain = loaded.domains[name]
    matchers = [_glob(pattern.strip("/")) for pattern in domain.paths]
    for plan in loaded.plan_paths(name):
        try:
            matchers.append(_glob(plan.relative_to(repo.resolve()).as_posix()))
        except ValueError:
            continue  # a plan outside the repository changes in no diff of it
    return matchers


@functools.lru_cache(maxsize=1024)
def _glob(pattern: str) -> Any:
    """A matcher of repository paths: ``*`` within a segment, ``**`` across segments, ``?``,
    ``[...]``; a pattern that matches a folder matches everything under it."""
    regex = re.compile(_translate(pattern) + r"(/.*)?")
    return lambda path: regex.fullmatch(path) is not None


def _translate(pattern: str) -> str:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append(r"(.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(r".*")
            index += 2
            continue
        if char == "*":
            out.append(r"[^/]*")
        elif char == "?":
            out.append(r"[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def matches(pattern: str, path: str) -> bool:
    """Whether a repository ``path`` belongs to ``pattern`` (for docs and tests)."""
    result: bool = _glob(pattern.strip("/"))(path)
    return result


def names(found: Affected) -> Sequence[str]:
    return [*found.domains, *found.through]
