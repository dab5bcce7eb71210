"""Where the public material of /work/shared/public (../shared/public from the repository
root) is found, without copying it into the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path


def public_root() -> Path:
    """The directory ``../shared/public/…`` is relative to: the repository root, or in a
    git worktree the main checkout's root (the public material sits beside it)."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "../shared/public").is_dir():
        return repo
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            cwd=repo, capture_output=True, text=True, check=True).stdout
    return Path(common.strip()).parent


def public(path: str) -> Path:
    """``public("gateway-api-crds")``: ``../shared/public/gateway-api-crds``, resolved."""
    return (public_root() / "../shared/public" / path).resolve()
