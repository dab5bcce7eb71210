"""Running the real ``phasegate`` executable, as users and CI jobs do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PHASEGATE = str(Path(sys.executable).parent / "phasegate")


def phasegate(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PHASEGATE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
