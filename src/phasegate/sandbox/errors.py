"""The one exception the sandbox raises: it cannot give you a working control plane."""

from __future__ import annotations

from phasegate.errors import PhasegateError


class SandboxError(PhasegateError):
    """The local control plane could not be built, started, reached or stopped.

    The message is one paragraph meant for a person: what failed, which component, and
    the last lines of its log when there is one. Exit code 2 means "unusable".
    """

    exit_code = 2
