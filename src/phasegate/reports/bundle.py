"""An evidence bundle: one run's every report in one ``.tar.gz``, with an ``INDEX.md`` that
says what each file proves and which command reproduces it (``phasegate evidence bundle``).

Everything comes from the store (the deployment record too: the run keeps it as an
artifact), so a bundle made later says what the run said then. Texts are masked where they
were recorded; the index is masked again as it is written.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from phasegate import secrets
from phasegate.store import records
from phasegate.store.records import RunBundle


@dataclass(frozen=True)
class File:
    name: str
    proves: str
    command: str  # reproduces it from the store
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


_EVIDENCE = (
    ("md", "evidence.md", "every step of the run and what each probe expected and observed, "
     "for people; captured diagnostics and artifacts follow the steps"),
    ("json", "evidence.json", "the same facts as data (`phasegate schema --for evidence` "
     "describes them): each check's structured observation and attempts"),
    ("junit", "evidence.junit.xml", "each check as a JUnit test case, failures with what was "
     "observed (for CI test reports)"),
    ("html", "evidence.html", "the evidence as one self-contained page (no scripts)"),
)


def files(bundle: RunBundle) -> list[File]:
    """The bundle's files, INDEX.md last (it describes the others)."""
    from phasegate import reports
    from phasegate.reports import retro

    run = bundle.run.id
    found = [File(name, proves, f"phasegate evidence {run} --format {fmt} -o {name}",
                  _bytes(reports.render(bundle, fmt))) for fmt, name, proves in _EVIDENCE]
    facts = retro.collect(bundle, retro.plan_facts(bundle))
    found.append(File("retrospective.md", "what went well and what did not: timeline, "
                      "failures with their evidence, retries and time lost, recommendations",
                      f"phasegate retro {run} -o retrospective.md",
                      _bytes(retro.markdown(facts))))
    record = _artifact(bundle, records.DEPLOYMENT_RECORD)
    if record is not None:
        found.append(File("deployment-record.md", "what the run left deployed and its status "
                          "when stage V wrote it; how to reach, check, log and restart it",
                          f"phasegate evidence {run} --format md (its artifact "
                          f"'{records.DEPLOYMENT_RECORD}')", _bytes(record)))
    found.append(File("diagnostics.md", "the state captured where a check did not pass "
                      "(object status, conditions, events, pod logs), or that none was",
                      f"phasegate show {run}; phasegate evidence {run} --format md "
                      "(its 'diagnostics' artifacts)", _bytes(_diagnostics(bundle))))
    return found


def index(bundle: RunBundle, contents: list[File], store: str) -> str:
    run = bundle.run
    lines = [f"# Evidence bundle — run {run.id}", "",
             f"- command: `{run.command}`" + (f" · plan `{run.plan_name}`" if run.plan_name
                                               else ""),
             f"- status: **{run.status}** — {run.summary or 'no summary'}",
             f"- started {run.started.isoformat()}, finished "
             f"{run.finished.isoformat() if run.finished else 'not (still running)'}",
             *([f"- plan hash `{run.plan_hash}`"] if run.plan_hash else []),
             f"- made from the store {store} by phasegate {_version()}", "",
             "Each command reproduces its file from that store "
             f"(add `--store {store}` when it is not your default).", "",
             "| file | what it proves | reproduce with | sha256 |", "|---|---|---|---|"]
    lines += [f"| `{f.name}` | {f.proves} | `{f.command}` | `{f.sha256}` |" for f in contents]
    if not any(f.name == "deployment-record.md" for f in contents):
        lines += ["", "No deployment record: this run's stage V did not write one (only a run "
                  "that validates applied phases does)."]
    return secrets.mask("\n".join(lines) + "\n")


def write(bundle: RunBundle, store: str, path: Path) -> list[File]:
    """Write the bundle to ``path`` (gzip'd tar, one folder named after the run)."""
    contents = files(bundle)
    everything = [*contents, File("INDEX.md", "this index", "phasegate evidence bundle "
                                  f"{bundle.run.id} -o FILE",
                                  _bytes(index(bundle, contents, store)))]
    folder = f"phasegate-evidence-{bundle.run.id}"
    moment = (bundle.run.finished or bundle.run.started).timestamp()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for item in everything:
            info = tarfile.TarInfo(f"{folder}/{item.name}")
            info.size, info.mtime, info.mode = len(item.content), int(moment), 0o644
            archive.addfile(info, io.BytesIO(item.content))
    path.write_bytes(buffer.getvalue())
    return everything


def _diagnostics(bundle: RunBundle) -> str:
    found = [a for a in bundle.artifacts if a.name.startswith(records.DIAGNOSTICS)]
    lines = [f"# Diagnostics — run {bundle.run.id}", ""]
    if not found:
        failed = [s.name for s in bundle.steps if s.status not in ("passed", "running")]
        lines.append("No diagnostics were captured: " + (
            f"the steps that did not pass ({', '.join(failed)}) had no check that captures "
            "them (Kubernetes object and workload checks do)." if failed
            else "every step passed."))
    for artifact in found:
        lines += [f"## {artifact.name.removeprefix(records.DIAGNOSTICS)}", "", "```",
                  artifact.content, "```", ""]
    return "\n".join(lines) + "\n"


def _artifact(bundle: RunBundle, name: str) -> str | None:
    found = [a.content for a in bundle.artifacts if a.name == name]
    return found[-1] if found else None


def _version() -> str:
    from importlib import metadata

    try:  # not phasegate.__version__: the package's root names the whole API, workflow too
        return metadata.version("phasegate")
    except metadata.PackageNotFoundError:
        return "(version unknown)"


def _bytes(text: str) -> bytes:
    return text.encode("utf-8")

