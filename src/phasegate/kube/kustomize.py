"""Kustomize overlays rendered with the engine ``kubectl kustomize`` uses.

The binary: ``PHASEGATE_KUBECTL`` (a kubectl, run as ``kubectl kustomize DIR``), else a
``kustomize`` on PATH (``kustomize build DIR``), else a ``kubectl`` on PATH. An overlay is
rendered once per content: the output is kept while no file of the overlay, nor of a local
base or component it names, changes — so the stages of a run share one rendering.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from phasegate.errors import PhasegateError, PlanError

ENV = "PHASEGATE_KUBECTL"
TIMEOUT = 120.0
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# the fields whose entries may be local kustomizations (directories) rendered with this one
_NESTED = ("resources", "bases", "components")
HOW_TO_GET = (
    "rendering a kustomize overlay needs kubectl (it carries kustomize) or kustomize: set "
    f"{ENV} to a kubectl binary, or put kustomize or kubectl on PATH (in this repository "
    "harness/kubectl.sh builds kubectl and prints its path)")

_CACHE: dict[tuple[str, str, str], str] = {}
CACHE_RENDERINGS = 64


def command(directory: Path) -> list[str]:
    """The command that renders ``directory``; a clear error when no binary is found."""
    given = os.environ.get(ENV)
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise PhasegateError(f"{ENV}={given} is not an executable file; {HOW_TO_GET}")
        return [given, "kustomize", str(directory)]
    found = shutil.which("kustomize")
    if found:
        return [found, "build", str(directory)]
    found = shutil.which("kubectl")
    if found:
        return [found, "kustomize", str(directory)]
    raise PhasegateError(HOW_TO_GET)


def build(directory: Path) -> str:
    """The overlay's objects as YAML text, as kustomize renders them."""
    if not directory.is_dir():
        raise PlanError("kustomize overlay not found (a directory with a kustomization.yaml "
                        "is expected)", file=str(directory))
    if not any((directory / name).is_file() for name in KUSTOMIZATION_FILES):
        raise PlanError("no kustomization.yaml in this directory: not a kustomize overlay",
                        file=str(directory))
    argv = command(directory)
    key = (str(directory.resolve()), argv[0], _digest(directory))
    if key in _CACHE:
        return _CACHE[key]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PlanError(f"kustomize did not finish rendering in {TIMEOUT:g} s",
                        file=str(directory)) from None
    except OSError as exc:
        raise PhasegateError(f"cannot run {argv[0]}: {exc.strerror}; {HOW_TO_GET}") from None
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split()) or f"exit {done.returncode}"
        raise PlanError(f"kustomize cannot render this overlay: {said}", file=str(directory))
    _CACHE[key] = done.stdout
    while len(_CACHE) > CACHE_RENDERINGS:
        del _CACHE[next(iter(_CACHE))]  # the oldest: a long-lived process edits overlays
    return done.stdout


def _digest(directory: Path) -> str:
    """A digest of every file the overlay may read. With kustomize's default load
    restrictor a kustomization reads only files under its own directory, plus the local
    kustomizations its ``resources``/``bases``/``components`` name: those are followed."""
    digest = hashlib.sha256()
    queue, seen = [directory.resolve()], set()
    while queue:
        root = queue.pop()
        if root in seen:
            continue
        seen.add(root)
        for path in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts):
            digest.update(str(path).encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                continue  # kustomize will say what it cannot read
        queue += _local_kustomizations(root)
    return digest.hexdigest()


def _local_kustomizations(root: Path) -> list[Path]:
    import yaml

    for name in KUSTOMIZATION_FILES:
        path = root / name
        if path.is_file():
            break
    else:
        return []
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # kustomize will say what is wrong with it
    if not isinstance(spec, dict):
        return []
    found = []
    for field in _NESTED:
        for entry in spec.get(field) or []:
            if isinstance(entry, str) and "://" not in entry and not entry.startswith("git@"):
                candidate = (root / entry).resolve()
                if candidate.is_dir():
                    found.append(candidate)
    return found
