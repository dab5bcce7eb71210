"""The one error tree of phasegate.

A gate saying "no" is data (an Observation with ``passed=False``), never an exception.
An exception means phasegate could not find out::

    PhasegateError
    ├── PlanError      a plan, task or input file is malformed (file, line, column, path)
    ├── TargetError    the target is unusable: unreachable, wrong context or cluster
    ├── ProbeError     a probe could not decide (retryable or not)
    │   └── WatchRefused   the server will not be watched here: poll instead
    ├── ActionError    an action could not change the system (retryable or not)
    └── StoreError     the evidence store cannot be opened, migrated or written
"""

from __future__ import annotations


class PhasegateError(Exception):
    """Base of every error phasegate raises on purpose."""

    exit_code = 2


class PlanError(PhasegateError):
    """A malformed plan or input, located at file:line:column and a path in the document."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.suggestion = suggestion
        super().__init__(self.render())

    def render(self) -> str:
        if self.file is None and self.line is None:
            where = ""  # a flag or an input on the command line: it names itself
        else:
            where = self.file or "<plan>"
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        text = where
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.suggestion:
            text += f" — did you mean '{self.suggestion}'?"
        return text


class TargetError(PhasegateError):
    """The target cannot be used: unreachable, or not the context or cluster the plan declares."""


class ProbeError(PhasegateError):
    """A probe could not decide; ``retryable`` says whether asking again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class WatchRefused(ProbeError):
    """The API server refuses this watch (forbidden, not supported): asking again the same
    way cannot help, so the gate polls what it would have watched."""


class ActionError(PhasegateError):
    """An action could not change the system; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class StoreError(PhasegateError):
    """The evidence store cannot be opened, migrated or written."""
