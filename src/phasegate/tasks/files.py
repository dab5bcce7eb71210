"""Task files: Markdown with YAML front matter, read with located errors, edited in place.

Reading keeps the round-trip tree, so every error names file:line:column and the path in
the front matter. Editing changes only what it must: a top-level scalar is rewritten on its
own line (quotes and trailing comment kept), a missing one is added after a neighbour, and
the progress log grows by one line — the author's formatting, comments and unknown fields
stay as they were.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from phasegate import secrets
from phasegate.errors import PlanError
from phasegate.plan import inputs as plan_inputs
from phasegate.plan import messages, probe_call, yamltext
from phasegate.tasks import model
from phasegate.tasks.model import Criterion, Task

FENCE = "---"
LOG_HEADING = "## Progress log"
_LOG_HEADING = re.compile(r"^#{1,6}\s+progress log\s*$", re.IGNORECASE)
_EXAMPLE = ("a task file starts with front matter between '---' lines, e.g. "
            "'---\\nid: REG-1\\ntitle: …\\ncriteria: […]\\n---'")


# --- reading ---

def split(text: str, filename: str) -> tuple[str, str]:
    """(front matter YAML, body). The YAML starts on the file's second line."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != FENCE:
        raise PlanError(f"no front matter; {_EXAMPLE}", file=filename, line=1, column=1)
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") in (FENCE, "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1:])
    raise PlanError("the front matter is not closed: add a line '---' after it",
                    file=filename, line=len(lines), column=1)


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError("task file not found", file=str(path)) from None
    except OSError as exc:
        raise PlanError(f"cannot read task file: {exc.strerror}", file=str(path)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(f"is not UTF-8 text (byte {exc.start})", file=str(path)) from None


def load(path: Path, folder: str | None = None) -> Task:
    return loads(read_text(path), path, folder or path.parent.name)


def loads(text: str, path: Path, folder: str) -> Task:
    """Validate a task file's text; ``path`` names the place of errors."""
    from pydantic import ValidationError

    filename = str(path)
    front, _ = split(text, filename)
    tree = _parse(front, filename)
    if not isinstance(tree, dict):
        shown = "nothing" if tree is None else type(tree).__name__
        raise PlanError(f"expected a mapping in the front matter, found {shown}; {_EXAMPLE}",
                        file=filename, line=2, column=1)
    document = yamltext.plain(tree)
    _refuse_typos(tree, document, filename)
    try:
        parsed = model.FrontMatter.model_validate(document)
    except ValidationError as exc:
        loc, error, others = messages.pick(exc.errors(), document)
        message = messages.describe(error)
        if loc and loc[-1] == "verify" and error["type"] == "missing":
            message += " (a probe such as {tls: {...}}, {plan_run: {plan: NAME}}, or 'attest')"
        if others:
            message += f" (and {others} more problem{'s' if others > 1 else ''})"
        raise located(message, tree, loc, filename) from None
    criteria = tuple(
        _criterion(tree, index, spec, filename) for index, spec in enumerate(parsed.criteria)
    )
    extra = {k: v for k, v in document.items() if k not in model.KNOWN_FIELDS}
    return Task(
        id=parsed.id, title=parsed.title, priority=parsed.priority, status=parsed.status,
        folder=folder, path=path, created=_created(parsed.created, path),
        blocked_by=tuple(parsed.blocked_by), criteria=criteria, target=parsed.target,
        extra=extra,
    )


def _parse(front: str, filename: str) -> Any:
    try:
        return yamltext.parse(front, filename)
    except PlanError as exc:  # positions are relative to the YAML; the file has '---' first
        raise PlanError(exc.message, file=filename,
                        line=exc.line + 1 if exc.line is not None else None,
                        column=exc.column) from None


def located(message: str, tree: Any, path: tuple[Any, ...], filename: str,
            suggestion: str | None = None, *, at_key: bool = False,
            shown: tuple[Any, ...] | None = None) -> PlanError:
    place = yamltext.locate(tree, path, at_key=at_key)
    return PlanError(
        message, file=filename,
        line=place[0] + 1 if place else None,  # + the opening '---' line
        column=place[1] if place else None,
        path=yamltext.render_path(path if shown is None else shown) or None,
        suggestion=suggestion,
    )


def _refuse_typos(tree: Any, document: dict[str, Any], filename: str) -> None:
    """Unknown fields are kept — unless they look like a misspelt known one."""
    places: list[tuple[tuple[Any, ...], str, tuple[str, ...]]] = [
        ((), key, model.KNOWN_FIELDS) for key in document
    ]
    for index, item in enumerate(document.get("criteria") or []):
        if isinstance(item, dict):
            places += [(("criteria", index), key, model.CRITERION_FIELDS) for key in item]
    for where, key, known in places:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if close:
            raise located(f"unknown field '{key}'", tree, (*where, key), filename, close[0],
                          at_key=True)


def _criterion(tree: Any, index: int, spec: model.CriterionSpec, filename: str) -> Criterion:
    where: tuple[Any, ...] = ("criteria", index, "verify")
    verify = spec.verify
    kind: str
    if verify == model.ATTEST:
        kind, mapping = model.ATTEST, None
    else:
        assert isinstance(verify, dict)
        mapping = verify
        kind = probe_kind(mapping, tree, where, filename)
        check_verify(mapping, {}, tree, where, filename, lenient=True)
    return Criterion(index + 1, spec.text, kind, mapping, model.criterion_key(spec.text, verify),
                     tuple(spec.blocked_by))


def probe_kind(mapping: dict[str, Any], tree: Any, where: tuple[Any, ...], filename: str) -> str:
    keys = [k for k in mapping if k not in probe_call.OPTION_KEYS]
    if len(keys) != 1:
        named = ", ".join(repr(k) for k in keys) or "none"
        raise located(f"expected exactly one probe key (or plan_run, or 'attest'), found {named}",
                      tree, where, filename)
    return str(keys[0])


def check_verify(mapping: dict[str, Any], inputs: dict[str, Any], tree: Any,
                 where: tuple[Any, ...], filename: str, *, lenient: bool = False) -> Any:
    """The criterion's check, built with ``inputs`` substituted: a ProbeCall or PlanRunParams.

    ``lenient``: a placeholder without a value is not an error yet (listing needs no inputs);
    only the probe's name is checked then.
    """
    from pydantic import ValidationError

    from phasegate.probes import registry

    try:
        substituted = _substitute(mapping, inputs, where)
    except _Missing as exc:
        if not lenient:
            raise located(str(exc), tree, exc.path, filename) from None
        kind = probe_kind(mapping, tree, where, filename)
        if kind != model.PLAN_RUN and registry.get(kind) is None:
            raise located(f"unknown probe '{kind}'", tree, (*where, kind), filename,
                          registry.suggest(kind), at_key=True, shown=where) from None
        return None
    if model.PLAN_RUN in substituted:
        try:
            return model.PlanRunParams.model_validate(substituted[model.PLAN_RUN] or {})
        except ValidationError as exc:
            loc, error, _ = messages.pick(exc.errors(), substituted[model.PLAN_RUN])
            raise located(messages.describe(error), tree, (*where, model.PLAN_RUN, *loc),
                          filename, at_key=error["type"] == "extra_forbidden") from None
    try:
        return probe_call.build(substituted)
    except probe_call.ProbeCallError as exc:
        path = (*where, *exc.loc)
        shown = path[:-1] if exc.at_key and len(exc.loc) == 1 else path
        raise located(str(exc), tree, path, filename, exc.suggestion, at_key=exc.at_key,
                      shown=shown) from None


class _Missing(LookupError):
    def __init__(self, message: str, path: tuple[Any, ...]) -> None:
        self.path = path
        super().__init__(message)


def _substitute(node: Any, inputs: dict[str, Any], where: tuple[Any, ...]) -> Any:
    if isinstance(node, dict):
        return {str(k): _substitute(v, inputs, (*where, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, inputs, (*where, i)) for i, v in enumerate(node)]
    if isinstance(node, str):
        try:
            return plan_inputs.substitute(node, inputs)
        except plan_inputs.MissingInput as exc:
            raise _Missing(str(exc), where) from None
    return node


def front_tree(path: Path) -> Any:
    """The round-trip tree of a task's front matter (for locating errors at verify time)."""
    front, _ = split(read_text(path), str(path))
    return _parse(front, str(path))


def _created(value: date | datetime | None, path: Path) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.now(UTC)


def load_dir(root: Path) -> list[Task]:
    """Every task under ``root``/backlog, active and completed; duplicate ids are an error."""
    if not root.is_dir():
        raise PlanError(f"there is no tasks directory here (create {root}/backlog/ and put "
                        "task files there, or pass --dir)", file=str(root))
    tasks: list[Task] = []
    seen: dict[str, Path] = {}
    for folder in model.FOLDERS:
        for path in sorted((root / folder).glob("*.md")):
            task = load(path, folder)
            if task.id in seen:
                raise PlanError(f"task id {task.id} is used twice: also in {seen[task.id]}",
                                file=str(path), path="id")
            seen[task.id] = path
            tasks.append(task)
    return tasks


def find(root: Path, task_id: str, tasks: list[Task] | None = None) -> Task:
    """The task with ``task_id`` (from ``tasks`` when already loaded); a near miss is named."""
    tasks = load_dir(root) if tasks is None else tasks
    for task in tasks:
        if task.id == task_id:
            return task
    ids = [t.id for t in tasks]
    close = difflib.get_close_matches(task_id, ids, n=1, cutoff=0.6)
    hint = f" — did you mean '{close[0]}'?" if close else (
        f" (known: {', '.join(ids)})" if ids else "")
    raise PlanError(f"no task '{task_id}' in {root}{hint}")


# --- editing ---

@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of one task file between processes.

    The lock file is removed while still held, so a process that locked a file since
    unlinked (or replaced) must notice: it holds the lock only once the file it locked is
    the one at the path, and tries again otherwise. Unlinking after unlocking instead would
    let a waiter hold the old file while a newcomer locks a new one: two holders.
    """
    lock_path = path.parent / f".{path.name}.lock"
    while True:
        lock = open(lock_path, "a")  # noqa: SIM115 - closed below, on every path
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            held = os.fstat(lock.fileno())
            try:
                current = os.stat(lock_path)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_dev, current.st_ino) == (
                    held.st_dev, held.st_ino):
                break
        except BaseException:
            lock.close()
            raise
        lock.close()  # locked a file no longer at the path: its holder removed it
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
        lock.close()  # closing releases the lock, after the file left the path


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def set_fields(text: str, values: dict[str, str], filename: str,
               after: tuple[str, ...] = ("status", "priority", "title", "id")) -> str:
    """Set top-level scalar fields of the front matter, touching only their lines."""
    front, body = split(text, filename)
    for key, value in values.items():
        front = _set_field(front, key, value, filename, after)
    prefix = text[: len(text) - len(text.removeprefix("\ufeff"))]
    newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    return f"{prefix}{FENCE}{newline}{front}{FENCE}{newline}{body}"


def _set_field(front: str, key: str, value: str, filename: str,
               after: tuple[str, ...]) -> str:
    tree: Any = _parse(front, filename)
    lines = front.splitlines(keepends=True)
    if isinstance(tree, dict) and key in tree and not isinstance(tree[key], dict | list):
        key_line, key_col = _lc(tree).key(key)
        value_line, value_col = _lc(tree).value(key)
        if key_col == 0 and value_line == key_line:
            line = lines[key_line]
            ending = line[len(line.rstrip("\r\n")):]
            content = line.rstrip("\r\n")
            rest = content[value_col:]
            end = _scalar_end(rest)
            quote = rest[0] if rest[:1] in ("'", '"') else None
            lines[key_line] = content[:value_col] + _scalar(value, quote) + rest[end:] + ending
            return "".join(lines)
        return _dump_with(tree, key, value)
    if isinstance(tree, dict) and key not in tree:
        anchor = next((a for a in after if a in tree and _lc(tree).key(a)[1] == 0), None)
        index = len(lines)
        if anchor is not None:
            index = _end_of_entry(lines, _lc(tree).key(anchor)[0])
        ending = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += ending
        lines.insert(index, f"{key}: {_scalar(value, None)}{ending}")
        return "".join(lines)
    return _dump_with(tree, key, value)


def _lc(tree: Any) -> Any:
    return tree.lc


def _end_of_entry(lines: list[str], start: int) -> int:
    """The line after a top-level entry (its value may continue on indented lines)."""
    index = start + 1
    while index < len(lines) and (lines[index][:1] in (" ", "\t")):
        index += 1
    return index


def _scalar_end(rest: str) -> int:
    """Where a scalar that starts ``rest`` ends (before spaces and a comment)."""
    if rest[:1] == "'":
        index = 1
        while index < len(rest):
            if rest[index] == "'":
                if rest[index + 1:index + 2] == "'":
                    index += 2
                    continue
                return index + 1
            index += 1
        return len(rest)
    if rest[:1] == '"':
        index = 1
        while index < len(rest):
            if rest[index] == "\\":
                index += 2
                continue
            if rest[index] == '"':
                return index + 1
            index += 1
        return len(rest)
    match = re.search(r"\s+#", rest)
    end = match.start() if match else len(rest)
    return len(rest[:end].rstrip())


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _scalar(value: str, quote: str | None) -> str:
    """``value`` as a YAML scalar that reads back as the same string (a date stays a date)."""
    import json

    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    if quote == '"':
        return json.dumps(value, ensure_ascii=False)
    if _DATE.match(value) or _reads_back(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _reads_back(value: str) -> bool:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if not value or value != value.strip() or "\n" in value or value[0] in "!&*%@`|>'\"":
        return False
    try:
        loaded = YAML(typ="safe").load(f"k: {value}\n")
    except YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("k") == value and isinstance(
        loaded.get("k"), str)


def _dump_with(tree: Any, key: str, value: str) -> str:
    """The rare case (a multi-line or nested value): ruamel's round-trip dump."""
    import io

    from ruamel.yaml import YAML

    tree[key] = value
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def append_log(text: str, entry: str) -> str:
    """Add ``- entry`` as the last line of the body's progress log (created if missing)."""
    entry = secrets.mask(" ".join(entry.split()))
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    start = _body_start(lines)
    heading = next((i for i in range(start, len(lines))
                    if _LOG_HEADING.match(lines[i].rstrip("\r\n"))), None)
    if heading is None:
        body = "".join(lines).rstrip("\r\n")
        return f"{body}{newline}{newline}{LOG_HEADING}{newline}{newline}- {entry}{newline}"
    level = len(lines[heading]) - len(lines[heading].lstrip("#"))
    end = len(lines)
    for index in range(heading + 1, len(lines)):
        match = re.match(r"^(#{1,6})\s", lines[index])
        if match and len(match.group(1)) <= level:
            end = index
            break
    last = end
    while last > heading + 1 and not lines[last - 1].strip():
        last -= 1
    if last > 0 and not lines[last - 1].endswith(("\n", "\r")):
        lines[last - 1] += newline
    new = [f"- {entry}{newline}"]
    if last == heading + 1:
        new.insert(0, newline)  # a blank line under the heading
    if last == end and end < len(lines):
        new.append(newline)
    lines[last:last] = new
    return "".join(lines)


def _body_start(lines: list[str]) -> int:
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") in (FENCE, "..."):
            return index + 1
    return len(lines)


def stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def log_entry(task_path: Path, entry: str) -> None:
    with locked(task_path):
        text = read_text(task_path)
        write_atomic(task_path, append_log(text, f"{stamp()} · {entry}"))


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
