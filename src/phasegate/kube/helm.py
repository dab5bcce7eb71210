"""The helm CLI, run for a phase: render (template), upgrade --install (never with helm's own
--wait: readiness is phasegate's gate), rollback, uninstall, history, status, manifest.

helm is a separate binary (built from the Helm Go module by ``harness/helm.sh``), found by
``PHASEGATE_HELM`` or on PATH. Values reach helm only as files: ``set`` values are written
to a private temporary values file, so they never stand on a command line (``ps`` shows
those), and no command output leaves here unmasked."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from phasegate import secrets
from phasegate.errors import ActionError

ENV = "PHASEGATE_HELM"
HOW_TO_GET = (f"set {ENV} to a helm v3 binary or put helm on PATH; from a phasegate "
              "checkout, harness/helm.sh builds the pinned one from the Helm Go module "
              "(and prints its path)")


def find_binary() -> str:
    """The helm to run: ``PHASEGATE_HELM`` or the first ``helm`` on PATH."""
    given = os.environ.get(ENV)
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise ActionError(f"{ENV}={given} is not an executable file; {HOW_TO_GET}")
        return given
    found = shutil.which("helm")
    if found is None:
        raise ActionError(f"this phase runs helm, and no helm was found; {HOW_TO_GET}")
    return found


@dataclass(frozen=True)
class Chart:
    """What helm is given as the chart: a local path, a name in a ``repo``, or an
    ``oci://`` reference; ``version`` pins a remote chart (a constraint helm resolves);
    ``ca_file`` is a CA helm trusts besides the system's for the chart's registry."""

    ref: str
    version: str | None = None
    repo: str | None = None
    ca_file: str | None = None

    def args(self) -> list[str]:
        return [self.ref, *(["--version", self.version] if self.version else []),
                *(["--repo", self.repo] if self.repo else []),
                *(["--ca-file", self.ca_file] if self.ca_file else [])]

    @property
    def shown(self) -> str:
        where = f"{self.ref} from {secrets.mask(self.repo)}" if self.repo else self.ref
        return where + (f" {self.version}" if self.version else "")


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    chart: Chart
    values: tuple[Path, ...] = ()
    set: Mapping[str, Any] = field(default_factory=dict)


def release(name: str, namespace: str, base: Path, *, chart: str | None, version: str | None,
            repo: str | None, oci: str | None, path: str | None, values: Sequence[str],
            set: Mapping[str, Any], oci_ca: str | None = None) -> Release:
    """A release as a plan writes it (paths relative to the plan's folder ``base``);
    ``oci_ca`` is the CA of an ``oci`` chart's registry, when one is kept for it."""
    if path:
        found = Chart(str(base / path))
    elif oci:
        found = Chart(f"{oci.rstrip('/')}/{chart}", version, ca_file=oci_ca)
    else:
        found = Chart(str(chart), version, repo)
    return Release(name, namespace, found, tuple(base / v for v in values), dict(set))


@dataclass(frozen=True)
class Revision:
    """One entry of ``helm history``."""

    revision: int
    status: str  # deployed, superseded, failed, pending-install, pending-upgrade, …
    chart: str
    updated: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "status": self.status, "chart": self.chart,
                "updated": self.updated, "description": self.description}


@dataclass(frozen=True)
class Installed:
    revision: int
    status: str
    manifest: str  # the rendered objects of the release, YAML documents


STOP_GRACE_S = 20.0  # how long a stopped helm may take to record its release as failed
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


@dataclass(frozen=True)
class Helm:
    binary: str
    kubeconfig: str | None
    context: str | None

    def render(self, release: Release) -> str:
        """``template``, for the stages that plan (R, P) outside the event loop's work: the
        same offline render, run to its end."""
        with _values_args(release) as values:
            argv = [self.binary, "template", release.name, *release.chart.args(),
                    "--namespace", release.namespace, "--skip-tests", *values]
            try:
                done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                      timeout=300)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ActionError(f"cannot run {self.binary} template: {exc}") from None
        if done.returncode != 0:
            said = secrets.mask(done.stderr.decode(errors="replace").strip())
            raise ActionError(f"helm template failed (exit {done.returncode}): {said[-2000:]}")
        return done.stdout.decode(errors="replace")

    async def upgrade_install(self, release: Release, timeout: float) -> Installed:
        """``helm upgrade --install`` without ``--wait``. ``timeout`` bounds helm's hooks,
        the only thing helm waits for then."""
        with _values_args(release) as values:
            out = await self._run("upgrade", "--install", release.name, *release.chart.args(),
                                  "--namespace", release.namespace, *values,
                                  "--timeout", f"{max(1, int(timeout))}s", "--output", "json")
        # the JSON carries the values too ("config"): only these fields are kept
        found = _json_object(out, "helm upgrade --install")
        return Installed(int(found.get("version", 0)),
                         str(found.get("info", {}).get("status", "")),
                         str(found.get("manifest", "")))

    async def rollback(self, release: Release, revision: int, timeout: float,
                       dry_run: bool = False) -> str:
        return await self._run("rollback", release.name, str(revision),
                               "--namespace", release.namespace,
                               "--timeout", f"{max(1, int(timeout))}s",
                               *(["--dry-run"] if dry_run else []))

    async def uninstall(self, release: Release, timeout: float, dry_run: bool = False) -> str:
        return await self._run("uninstall", release.name, "--namespace", release.namespace,
                               "--timeout", f"{max(1, int(timeout))}s",
                               *(["--dry-run"] if dry_run else []))

    async def history(self, release: Release) -> list[Revision]:
        """The release's revisions, oldest first; empty when there is no such release."""
        try:
            out = await self._run("history", release.name, "--namespace", release.namespace,
                                  "--max", "256", "--output", "json")
        except ActionError as exc:
            if "release: not found" in str(exc):
                return []
            raise
        entries = json.loads(out or "[]")
        return [Revision(int(e["revision"]), str(e.get("status", "")), str(e.get("chart", "")),
                         str(e.get("updated", "")), str(e.get("description", "")))
                for e in entries]

    async def manifest(self, release: Release, revision: int | None = None) -> str:
        return await self._run("get", "manifest", release.name, "--namespace",
                               release.namespace,
                               *(["--revision", str(revision)] if revision else []))

    def digest(self, chart: Chart) -> str:
        """sha256 of the chart itself: of a local chart's files (names and contents), or of
        the archive helm pulls for a remote one (what ``version`` resolves to today)."""
        local = Path(chart.ref)
        if chart.repo is None and not chart.ref.startswith("oci://"):
            return _tree_digest(local)
        with tempfile.TemporaryDirectory(prefix="phasegate-chart-") as tmp:
            done = subprocess.run([self.binary, "pull", *chart.args(), "--destination", tmp],
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
            saved = sorted(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or not saved:
                said = secrets.mask(done.stderr.decode(errors="replace").strip())
                raise ActionError(f"helm pull {chart.shown} failed: {said[-2000:]}")
            return "sha256:" + hashlib.sha256(saved[0].read_bytes()).hexdigest()

    async def _run(self, *args: str, cluster: bool = True) -> str:
        argv = [self.binary, *args]
        if cluster:
            argv += [*(["--kubeconfig", self.kubeconfig] if self.kubeconfig else []),
                     *(["--kube-context", self.context] if self.context else [])]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise ActionError(f"cannot run {self.binary}: {exc.strerror}; {HOW_TO_GET}") from None
        try:
            out, err = await proc.communicate()
        except BaseException:
            # Stopped (Ctrl-C, a timeout): helm is told to stop too, and waited for while
            # its pipes are still read: helm records the release as failed as it stops, and
            # one whose stderr closed under it dies of SIGPIPE first, leaving it pending.
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
                except TimeoutError:
                    proc.kill()
            raise
        if proc.returncode != 0:
            said = secrets.mask(err.decode(errors="replace").strip() or
                                out.decode(errors="replace").strip())
            raise ActionError(f"helm {' '.join(args[:2])} failed (exit {proc.returncode}): "
                              f"{said[-2000:]}")
        return out.decode(errors="replace")


def for_target(kubeconfig: str | None, context: str | None) -> Helm:
    return Helm(find_binary(), kubeconfig, context)


@contextmanager
def _values_args(release: Release) -> Iterator[list[str]]:
    """``-f`` for each values file, then one private file holding the ``set`` values (later
    files win, as with helm's own ``--set`` after ``-f``); removed afterwards."""
    args = [arg for path in release.values for arg in ("--values", str(path))]
    if not release.set:
        yield args
        return
    with tempfile.TemporaryDirectory(prefix="phasegate-helm-") as tmp:
        path = Path(tmp) / "set.yaml"
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(nested(release.set)))
        yield [*args, "--values", str(path)]


def _tree_digest(path: Path) -> str:
    sha = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        sha.update(str(file.relative_to(path) if file != path else file.name).encode() + b"\0")
        sha.update(file.read_bytes())
    return "sha256:" + sha.hexdigest()


_CREDENTIAL_KEY = re.compile(r"token|secret|passw(or)?d|pwd|credential|api[-_]?key|private[-_]?key",
                             re.IGNORECASE)


def register_secrets(values: Mapping[str, Any], repo: str | None = None) -> None:
    """``set`` values under keys named like credentials (``db.password``, ``auth.token``)
    are secrets from now on, masked wherever text leaves; so are a repo URL's credentials.
    Values in files never leave here at all: helm alone reads them."""
    for key, value in values.items():
        if _CREDENTIAL_KEY.search(str(key)) and isinstance(value, str | int | float):
            secrets.register(str(value))
    if repo:
        secrets.register_url(repo)


MAX_INDEX = 65536  # helm's own bound on a --set list index (strvals.MaxIndex)
_SEGMENT = re.compile(r"((?:[^.\\\[\]]|\\.)+)((?:\[\d+\])*)")


def set_path(key: str) -> list[str | int]:
    """A ``set`` key as helm's ``--set`` reads it: ``ingress.hosts[0].host`` →
    ``["ingress", "hosts", 0, "host"]``; ``\\.`` is a dot inside a name
    (``nodeSelector.kubernetes\\.io/os``). ValueError for what helm would misread."""
    path: list[str | int] = []
    for part in _split_dots(key):
        found = _SEGMENT.fullmatch(part)
        if found is None:
            raise ValueError(f"set key {key!r}: {part!r} is not a name with optional [N] "
                             "list indexes (write a dot inside a name as \\.)")
        path.append(re.sub(r"\\(.)", r"\1", found.group(1)))
        for index in re.findall(r"\d+", found.group(2)):
            if int(index) >= MAX_INDEX:
                raise ValueError(f"set key {key!r}: list index {index} is above helm's "
                                 f"limit of {MAX_INDEX}")
            path.append(int(index))
    return path


def _split_dots(key: str) -> list[str]:
    parts, current, escaped = [], "", False
    for char in key:
        if char == "." and not escaped:
            parts.append(current)
            current = ""
        else:
            current += char
        escaped = char == "\\" and not escaped
    return [*parts, current]


def nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"image.tag": "1.2", "hosts[0].name": "a"}`` → ``{"image": {"tag": "1.2"},
    "hosts": [{"name": "a"}]}``: ``set`` keys are paths as with ``helm --set`` (a list it
    names is a new list, indexes before it null, as there); values keep their YAML types."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        path = set_path(str(key))
        node: Any = out
        for step, after in itertools.pairwise(path):
            node = _child(node, step, [] if isinstance(after, int) else {})
        _put(node, path[-1], value)
    return out


def _child(node: Any, step: str | int, empty: Any) -> Any:
    current = node[step] if isinstance(node, dict) and step in node else (
        node[step] if isinstance(node, list) and isinstance(step, int) and step < len(node)
        else None)
    if type(current) is not type(empty):
        current = empty
        _put(node, step, current)
    return current


def _put(node: Any, step: str | int, value: Any) -> None:
    if isinstance(node, list) and isinstance(step, int):
        node.extend([None] * (step + 1 - len(node)))
    node[step] = value


def pending(history: Sequence[Revision]) -> Revision | None:
    """The newest revision when it is still pending (a helm stopped mid-way left it)."""
    return history[-1] if history and history[-1].status in PENDING else None


def unlock_command(release: Release, history: Sequence[Revision]) -> str:
    """What a person runs to release a pending release, once sure no helm still works on
    it: back to the newest deployed revision before it, or uninstall if there is none."""
    where = f"--namespace {release.namespace}"
    stuck = pending(history)
    earlier = [r for r in history if stuck and r.revision < stuck.revision
               and r.status in ("deployed", "superseded")]
    if not earlier:
        return f"helm uninstall {release.name} {where}"
    return f"helm rollback {release.name} {earlier[-1].revision} {where}"


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ActionError(f"{what} printed no JSON release: {secrets.mask(text[:300])}") from None
    if not isinstance(value, dict):
        raise ActionError(f"{what} printed {type(value).__name__}, not a release")
    return value
