"""``git``: a working tree is clean, on the expected branch, and its HEAD is pushed.

Read-only: the remote is asked with ``git ls-remote``; nothing is fetched.
"""

from __future__ import annotations

import asyncio
import os

from pydantic import Field

from phasegate.observation import Verdict
from phasegate.probes.base import ProbeContext, ProbeParams, ProbeSpec


class GitParams(ProbeParams):
    path: str = Field(".", description="repository directory, relative to the plan")
    clean: bool = Field(False, description="no uncommitted or untracked changes")
    pushed: bool = Field(False, description="HEAD is on the upstream branch at the remote")
    branch: str | None = Field(None, description="the checked-out branch must be this one")

    def describe(self) -> str:
        return self.path


async def _git(cwd: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace").strip()


async def check(params: GitParams, ctx: ProbeContext) -> Verdict:
    cwd = str(ctx.base_dir / params.path)
    expected = _expectation(params)
    code, top = await _git(cwd, "rev-parse", "--show-toplevel")
    if code:
        return Verdict(False, expected, f"not a git repository: {cwd}", fail_fast=True)
    findings: list[str] = []
    problems: list[str] = []
    code, branch = await _git(cwd, "symbolic-ref", "--short", "-q", "HEAD")
    branch = branch if code == 0 else "a detached HEAD"
    findings.append(f"on {branch}")
    if params.branch and branch != params.branch:
        problems.append(f"on branch {branch}, not {params.branch}")
    if params.clean:
        _, status = await _git(cwd, "status", "--porcelain")
        changed = status.splitlines()
        findings.append(f"{len(changed)} changed path(s)")
        if changed:
            problems.append(f"{len(changed)} uncommitted change(s): {', '.join(changed[:5])}")
    if params.pushed:
        problems.extend(await _push_problems(cwd, findings))
    observed = "; ".join(problems) if problems else ", ".join(findings)
    return Verdict(not problems, expected, observed, detail=f"repository {top}")


async def _push_problems(cwd: str, findings: list[str]) -> list[str]:
    code, upstream = await _git(cwd, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}")
    if code:
        return ["no upstream branch configured"]
    remote, _, remote_branch = upstream.partition("/")
    _, head = await _git(cwd, "rev-parse", "HEAD")
    code, listing = await _git(cwd, "ls-remote", "--heads", remote, remote_branch)
    if code:
        last_line = listing.splitlines()[-1] if listing else f"exit {code}"
        return [f"remote {remote} unreachable: {last_line}"]
    remote_sha = listing.split()[0] if listing else ""
    if not remote_sha:
        return [f"branch {remote_branch} does not exist on {remote}"]
    if remote_sha == head:
        findings.append(f"HEAD {head[:12]} is on {upstream}")
        return []
    code, _ = await _git(cwd, "merge-base", "--is-ancestor", head, remote_sha)
    if code == 0:
        findings.append(f"HEAD {head[:12]} is contained in {upstream}")
        return []
    return [f"HEAD {head[:12]} not pushed: {upstream} is at {remote_sha[:12]}"]


def _expectation(params: GitParams) -> str:
    parts = []
    if params.branch:
        parts.append(f"on branch {params.branch}")
    if params.clean:
        parts.append("working tree clean")
    if params.pushed:
        parts.append("HEAD pushed to upstream")
    return ", ".join(parts) or "a git repository"


PROBES = [ProbeSpec("git", GitParams, check, "working tree clean, branch, HEAD pushed")]
