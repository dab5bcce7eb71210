"""A test suite as plain data, whatever tool's files it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Note:
    """Something in the suite phasegate does not do, and where it is written."""

    file: str
    line: int | None
    what: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.what}"


@dataclass(frozen=True)
class Command:
    """A command of a step, an assert or a collector, as kuttl runs it."""

    command: str = ""  # run without a shell, $VARS expanded
    script: str = ""  # run by sh -c
    namespaced: bool = False  # kubectl gets --namespace
    ignore_failure: bool = False
    timeout: float | None = None
    skip_log_output: bool = False
    env: tuple[tuple[str, str], ...] = ()  # Chainsaw's env of a script or command
    keep_output: bool = False  # stdout and stderr kept in the observation's data

    @property
    def text(self) -> str:
        return self.script or self.command


@dataclass(frozen=True)
class DeleteRef:
    api_version: str
    kind: str
    name: str = ""
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Collector:
    """What to gather when an assert fails: pod logs, events, or a command's output."""

    command: Command | None = None
    pod: str = ""
    selector: str = ""
    container: str = ""
    namespace: str = ""
    events: bool = False
    tail: int | None = None


@dataclass(frozen=True)
class Operation:
    """One Chainsaw operation: what it does, to what, within how long."""

    kind: str  # apply, create, patch, update, assert, error, delete, command, script, sleep,
    # wait, events, describe, get, podLogs
    objects: tuple[Json, ...] = ()
    command: Command | None = None
    timeout: float = 30.0
    seconds: float = 0.0  # sleep
    subresource: str = ""  # patch: status
    where: str = ""  # file:line, for what is said about it
    # Chainsaw's language: bindings (name, value) evaluated before the operation, whether
    # its resources are templated (None: the step's, the test's), its script's env
    # (name, value), the check of its result and the outputs (name, value, match) it binds
    bindings: tuple[tuple[Any, Any], ...] = ()
    template: bool | None = None
    env: tuple[tuple[Any, Any], ...] = ()
    check: Any = None
    outputs: tuple[tuple[Any, Any, Any], ...] = ()
    expect: tuple[tuple[Any, Any], ...] = ()  # (match, check): an apply's expected result


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    files: tuple[str, ...]
    apply: tuple[Json, ...] = ()
    asserts: tuple[Json, ...] = ()
    errors: tuple[Json, ...] = ()
    delete: tuple[DeleteRef, ...] = ()
    commands: tuple[Command, ...] = ()
    assert_commands: tuple[Command, ...] = ()
    collectors: tuple[Collector, ...] = ()
    timeout: float | None = None  # the TestAssert's, else the suite's
    # a Chainsaw step: its operations in order, then catch (on failure), finally, cleanup
    operations: tuple[Operation, ...] = ()
    catch: tuple[Operation, ...] = ()
    finally_: tuple[Operation, ...] = ()
    cleanup: tuple[Operation, ...] = ()
    bindings: tuple[tuple[Any, Any], ...] = ()  # a Chainsaw step's
    template: bool | None = None

    @property
    def title(self) -> str:
        if self.operations or self.catch or self.finally_ or self.cleanup:
            return self.name  # Chainsaw names its steps itself (step-1 when not)
        return f"step {self.index}-{self.name}"


@dataclass(frozen=True)
class Test:
    name: str
    path: str  # the test's directory relative to where its suite's tests are (for reports)
    directory: Path
    steps: tuple[Step, ...]
    # what it uses that phasegate does not do: such a test is not run (its verdict would
    # be phasegate's guess), and says so
    unsupported: tuple[str, ...] = ()
    namespace: str = ""  # its own, over the suite's (Chainsaw's spec.namespace)
    bindings: tuple[tuple[Any, Any], ...] = ()  # a Chainsaw test's
    template: bool = True  # Chainsaw templates resources unless told not to
    namespace_template: Json | None = None  # Chainsaw's namespaceTemplate
    scenario: int = 1  # which of a Chainsaw test's scenarios ($test.scenarioId)
    skip: bool = False  # the test says not to run it (Chainsaw's spec.skip)


@dataclass(frozen=True)
class Suite:
    name: str
    format: str
    root: Path
    tests: tuple[Test, ...]
    timeout: float = 30.0
    namespace: str = ""
    parallel: int = 8
    skip_delete: bool = False
    crds: tuple[Json, ...] = ()
    manifests: tuple[Json, ...] = ()
    commands: tuple[Command, ...] = ()
    notes: tuple[Note, ...] = ()
    values: Json | None = None  # Chainsaw's $values (--values), when given
