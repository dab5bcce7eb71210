"""Where the sandbox keeps things, following the XDG base-directory convention."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_NAME = "default"


def state_root() -> Path:
    """Directory holding one sub-directory (state file, logs, kubeconfig) per sandbox."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "phasegate" / "sandbox"


def instance_dir(name: str) -> Path:
    return state_root() / name


def harness_dir() -> Path | None:
    """The checkout's ``harness/`` (Go module that builds the binaries), if there is one.

    ``PHASEGATE_HARNESS_DIR`` overrides it; otherwise we look beside ``src/`` — the
    sandbox is a development and demo tool, used from a clone of the repository.
    """
    override = os.environ.get("PHASEGATE_HARNESS_DIR")
    if override:
        return Path(override)
    candidate = Path(__file__).resolve().parents[3] / "harness"
    return candidate if (candidate / "build.sh").is_file() else None


def cache_root() -> Path:
    """Per-user cache shared by all sandboxes (built binaries, seed image layouts)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "phasegate"
