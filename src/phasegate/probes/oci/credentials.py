"""Registry credentials: plan parameters, else the user's Docker ``config.json``.

``config.json`` is read the way Docker reads it: ``credHelpers[host]``, else ``credsStore``,
else ``auths[host]``. A helper that is not installed is noted, not fatal: the registry may
still allow anonymous pulls. Every password and auth string is registered as a secret the
moment it is read, so it can never reach the store or a report.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from phasegate import secrets
from phasegate.probes.oci import reference

_HELPER_TIMEOUT = 10.0
_DOCKER_HUB_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str  # where they came from, for the observation (never the values)

    def basic(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        secrets.register(token)
        return f"Basic {token}"


@dataclass(frozen=True)
class Lookup:
    credentials: Credentials | None
    note: str = ""  # why none were found, when that is worth saying


def config_path(auth_file: Path | None) -> Path:
    if auth_file is not None:
        return auth_file
    directory = os.environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


async def lookup(registry: str, auth_file: Path | None) -> Lookup:
    path = config_path(auth_file)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Lookup(None, f"no {path}" if auth_file else "")
    except (OSError, ValueError) as exc:
        return Lookup(None, f"{path} unreadable: {exc}")
    if not isinstance(config, dict):
        return Lookup(None, f"{path} is not a JSON object")
    keys = _keys(registry)
    helpers = config.get("credHelpers") or {}
    helper = next((helpers[k] for k in keys if k in helpers), None) or config.get("credsStore")
    if isinstance(helper, str) and helper:
        found = await _from_helper(helper, keys[0])
        if found.credentials is not None:
            return found
        fallback = _from_auths(config, keys, path)
        return fallback if fallback.credentials is not None else found
    return _from_auths(config, keys, path)


def _keys(registry: str) -> list[str]:
    """The spellings under which Docker may have stored a registry's credentials."""
    if registry == reference.DOCKER_HUB:
        return [_DOCKER_HUB_KEY, "index.docker.io", "docker.io", "registry-1.docker.io"]
    return [registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/",
            f"https://{registry}/v2/"]


def _from_auths(config: dict[str, object], keys: list[str], path: Path) -> Lookup:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return Lookup(None)
    entry = next((auths[k] for k in keys if k in auths), None)
    if not isinstance(entry, dict):
        return Lookup(None)
    username, password = entry.get("username"), entry.get("password")
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        secrets.register(entry["auth"])
        try:
            username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except ValueError:
            return Lookup(None, f"{path}: auth of {keys[0]} is not base64 user:password")
    if entry.get("identitytoken"):
        secrets.register(str(entry["identitytoken"]))
        return Lookup(None, f"{path}: identity tokens (OAuth2 refresh) are not supported yet")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return Lookup(None)
    secrets.register(password)
    return Lookup(Credentials(username, password, f"config.json ({path})"))


async def _from_helper(helper: str, server: str) -> Lookup:
    program = f"docker-credential-{helper}"
    if shutil.which(program) is None:
        return Lookup(None, f"credential helper {program} not installed")
    try:
        process = await asyncio.create_subprocess_exec(
            program, "get", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(server.encode()), _HELPER_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return Lookup(None, f"credential helper {program} failed: {type(exc).__name__}")
    if process.returncode != 0:
        return Lookup(None)  # "credentials not found": anonymous access may still work
    try:
        answer = json.loads(out)
        username, password = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        return Lookup(None, f"credential helper {program} answered something other than JSON")
    secrets.register(password)
    if username == "<token>":
        return Lookup(None, f"{program} holds an identity token, which is not supported yet")
    return Lookup(Credentials(username, password, f"credential helper {program}"))
