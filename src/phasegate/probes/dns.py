"""``dns``: a name resolves, optionally to given addresses."""

from __future__ import annotations

import asyncio
import socket
from typing import Literal

from pydantic import Field

from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec

_FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6, "any": socket.AF_UNSPEC}


class DnsParams(ProbeParams):
    name: str = Field(description="host name to resolve")
    type: Literal["A", "AAAA", "any"] = "any"
    addresses: list[str] = Field(
        default_factory=list, description="addresses that must all be among the answers"
    )
    resolves: bool = Field(True, description="false: the name must NOT resolve")

    def describe(self) -> str:
        return self.name


async def check(params: DnsParams, ctx: ProbeContext) -> Verdict:
    expected = _expectation(params)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            params.name, None, family=_FAMILIES[params.type], type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        observed = f"does not resolve ({exc.strerror})"
        return Verdict(not params.resolves, expected, observed)
    answers = sorted({str(info[4][0]) for info in infos})
    observed = "resolves to " + ", ".join(answers)
    if not params.resolves:
        return Verdict(False, expected, observed, data={"addresses": answers})
    missing = [address for address in params.addresses if address not in answers]
    if missing:
        observed += f" (missing {', '.join(missing)})"
    return Verdict(not missing, expected, observed, data={"addresses": answers})


def _expectation(params: DnsParams) -> str:
    if not params.resolves:
        return f"{params.name} does not resolve"
    if params.addresses:
        return f"{params.name} resolves to {', '.join(params.addresses)}"
    return f"{params.name} resolves"


PROBES = [ProbeSpec("dns", DnsParams, check, "a name resolves, optionally to given addresses")]
