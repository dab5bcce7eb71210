"""What every tool shares: the settings, one evidence store for the server's life, the lock
that keeps cluster work one call at a time, and the way results and errors leave."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, cast

from mcp.server.mcpserver.exceptions import ToolError

from phasegate import secrets
from phasegate.errors import PhasegateError, PlanError
from phasegate.mcp.policy import Settings
from phasegate.store.evidence import EvidenceStore

P = ParamSpec("P")
Result = dict[str, Any]
log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: EvidenceStore | None = None
        # A gate's work ends by closing the process's Kubernetes connections
        # (workflow.target.release): two at once would close each other's.
        self.cluster = asyncio.Lock()

    def store(self) -> EvidenceStore:
        """The evidence store, opened (and migrated) at the first call that needs it."""
        if self._store is None:
            self._store = EvidenceStore(self.settings.store)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def inputs(values: list[str] | None) -> dict[str, Any]:
    """Inputs written as the CLI's ``--input``: ``@file.yaml`` or ``key=value``."""
    from phasegate.plan import inputs as plan_inputs

    return plan_inputs.parse_input_args(values or [])


def seconds(timeout: str | None) -> float:
    from phasegate.durations import parse_duration

    if timeout is None:
        return 0.0
    try:
        return parse_duration(timeout)
    except ValueError as exc:
        raise PlanError(f"timeout: {exc}") from None


def answered(tool: Callable[P, Awaitable[Result]]) -> Callable[P, Awaitable[Result]]:
    """``tool`` whose result is masked and whose errors reach the client as one masked
    paragraph (a tool error the agent can read), never as a traceback."""

    @functools.wraps(tool)
    async def call(*args: P.args, **kwargs: P.kwargs) -> Result:
        try:
            result = await tool(*args, **kwargs)
        except ToolError as exc:
            raise ToolError(secrets.mask(str(exc))) from None
        except PhasegateError as exc:
            raise ToolError(secrets.mask(str(exc))) from None
        except Exception as exc:
            said = secrets.mask(f"{type(exc).__name__}: {exc}")
            log.error("tool %s failed: %s", tool.__name__, said)
            raise ToolError(f"phasegate could not answer: {said}") from None
        return cast(Result, secrets.mask_data(result))

    return call
