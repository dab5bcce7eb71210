"""``command``: run a program, judge its exit code and output. Runs no shell unless asked."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
from pathlib import Path

from pydantic import Field, field_validator

from phasegate import fields
from phasegate.observation import Verdict
from phasegate.probes import capture
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec


class CommandParams(ProbeParams):
    run: list[str] | str = Field(description="argv list; a string is split like a shell would, "
                                 "but runs without one unless shell is true")
    shell: bool = Field(False, description="run `run` through /bin/sh -c")
    exit_code: int = Field(0, description="expected exit code")
    stdout: str | None = Field(None, description="regex stdout must match")
    stderr: str | None = Field(None, description="regex stderr must match")
    stdout_absent: str | None = Field(None, description="regex stdout must not match")
    cwd: str | None = Field(None, description="working directory, relative to the plan")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment")
    timeout: fields.Seconds = Field(60.0, description="how long before the process is killed")
    output_in_data: bool = Field(False, description="keep stdout and stderr (masked, capped) "
                                 "in the observation's data, for a caller that reads them")

    @field_validator("stdout", "stderr", "stdout_absent")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    def argv(self) -> list[str]:
        if self.shell:
            script = self.run if isinstance(self.run, str) else shlex.join(self.run)
            return ["/bin/sh", "-c", script]
        return shlex.split(self.run) if isinstance(self.run, str) else list(self.run)

    def describe(self) -> str:
        return self.run if isinstance(self.run, str) else shlex.join(self.run)


async def check(params: CommandParams, ctx: ProbeContext) -> Verdict:
    argv = params.argv()
    expected = _expectation(params)
    cwd = ctx.base_dir / params.cwd if params.cwd else ctx.base_dir
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=Path(cwd),
            env={**os.environ, **params.env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # so a timeout can kill the whole process group
        )
    except FileNotFoundError:
        return Verdict(False, expected, f"command not found: {argv[0]}", fail_fast=True)
    except PermissionError:
        return Verdict(False, expected, f"not executable: {argv[0]}", fail_fast=True)
    try:
        out, err = await asyncio.wait_for(process.communicate(), params.timeout)
    except TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        return Verdict(False, expected, f"timed out after {params.timeout:g} s")
    finally:
        if process.returncode is None:
            _kill_group(process.pid)
    stdout = out.decode(errors="replace")
    stderr = err.decode(errors="replace")
    detail = f"$ {capture.excerpt(shlex.join(argv))}\n[exit {process.returncode}]\n"
    detail += f"--- stdout\n{capture.cap(stdout)}\n--- stderr\n{capture.cap(stderr)}"
    problems = _problems(params, process.returncode or 0, stdout, stderr)
    observed = "; ".join(problems) if problems else f"exit {process.returncode}"
    data: dict[str, object] = {"exit_code": process.returncode}
    if params.output_in_data:
        data |= {"stdout": capture.cap(stdout), "stderr": capture.cap(stderr)}
    return Verdict(not problems, expected, observed, detail=detail, data=data)


def _problems(params: CommandParams, code: int, stdout: str, stderr: str) -> list[str]:
    problems = []
    if code != params.exit_code:
        tail = capture.excerpt(stderr or stdout, 200)
        problems.append(f"exit {code}" + (f": {tail}" if tail else ""))
    if params.stdout and not re.search(params.stdout, stdout, re.MULTILINE):
        problems.append(f"stdout does not match /{params.stdout}/")
    if params.stderr and not re.search(params.stderr, stderr, re.MULTILINE):
        problems.append(f"stderr does not match /{params.stderr}/")
    if params.stdout_absent and re.search(params.stdout_absent, stdout, re.MULTILINE):
        problems.append(f"stdout matches /{params.stdout_absent}/")
    return problems


def _expectation(params: CommandParams) -> str:
    parts = [f"exit {params.exit_code}"]
    if params.stdout:
        parts.append(f"stdout ~ /{params.stdout}/")
    if params.stderr:
        parts.append(f"stderr ~ /{params.stderr}/")
    if params.stdout_absent:
        parts.append(f"stdout !~ /{params.stdout_absent}/")
    return ", ".join(parts)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


PROBES = [ProbeSpec("command", CommandParams, check, "run a program; judge exit code and output")]
