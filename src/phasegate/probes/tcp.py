"""``tcp``: a TCP connection can be opened."""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import Field

from phasegate import fields, net_errors
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
        async with asyncio.timeout(params.timeout):  # no task of its own, as wait_for makes
            _, writer = await asyncio.open_connection(params.host, params.port)
    except TimeoutError:
        return Verdict(False, expected, f"timed out after {params.timeout:g} s")
    except OSError as exc:
        return Verdict(False, expected, net_errors.describe_os_error(exc))
    peer = writer.get_extra_info("peername")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Verdict(True, expected, f"connected to {peer[0]}:{peer[1]}")


PROBES = [ProbeSpec("tcp", TcpParams, check, "a TCP connection can be opened")]
