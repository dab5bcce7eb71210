"""``tcp``: a TCP connection can be opened."""

from __future__ import annotations

import asyncio
import contextlib
import errno

from pydantic import Field

from phasegate import fields
from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec


class TcpParams(ProbeParams):
    host: str = Field(description="host name or IP address")
    port: int = Field(ge=1, le=65535)
    timeout: fields.Seconds = Field(5.0, description="seconds to wait for the connection")

    def describe(self) -> str:
        return f"{self.host}:{self.port}"


async def check(params: TcpParams, ctx: ProbeContext) -> Verdict:
    expected = f"accepts connections on {params.host}:{params.port}"
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(params.host, params.port), params.timeout
        )
    except TimeoutError:
        return Verdict(False, expected, f"timed out after {params.timeout:g} s")
    except OSError as exc:
        return Verdict(False, expected, describe_os_error(exc))
    peer = writer.get_extra_info("peername")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Verdict(True, expected, f"connected to {peer[0]}:{peer[1]}")


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ECONNREFUSED or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    if "Name or service not known" in str(exc) or "not known" in str(exc):
        return "name not resolved"
    return f"{type(exc).__name__}: {exc}"


PROBES = [ProbeSpec("tcp", TcpParams, check, "a TCP connection can be opened")]
