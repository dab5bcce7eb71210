"""Find the sandbox's binaries, building them with the harness on first use.

The harness (``harness/build.sh``) compiles kube-apiserver, kube-controller-manager,
kube-scheduler, etcd and KWOK from pinned Go modules into a per-user cache keyed by
their versions; ``build.sh --print-dir`` names that directory without building.
``PHASEGATE_SANDBOX_BIN`` points at a directory of ready binaries instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

from phasegate.sandbox.errors import SandboxError
from phasegate.sandbox.paths import harness_dir

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def stage_files() -> list[Path]:
    """The KWOK Stage files that make fake nodes and pods behave (harness/stages)."""
    harness = require_harness()
    files = sorted((harness / "stages").glob("*.yaml"))
    if not files:
        raise SandboxError(f"The sandbox found no KWOK stage files in {harness / 'stages'}.")
    return files


def locate(*, build: bool = True) -> Path:
    """Directory holding all five binaries; builds them first if allowed and needed."""
    override = os.environ.get("PHASEGATE_SANDBOX_BIN")
    if override:
        bin_dir = Path(override)
        missing = [c for c in COMPONENTS if not (bin_dir / c).is_file()]
        if missing:
            raise SandboxError(
                f"PHASEGATE_SANDBOX_BIN={bin_dir} lacks {', '.join(missing)}; unset it to "
                "build the binaries with the harness, or point it at a complete directory."
            )
        return bin_dir
    harness = require_harness()
    script = harness / "build.sh"
    out = subprocess.run(
        ["bash", str(script), "--print-dir"], capture_output=True, text=True, check=True
    )
    bin_dir = Path(out.stdout.strip())
    if (bin_dir.parent / ".complete").is_file():
        return bin_dir
    if not build:
        raise SandboxError(
            f"The sandbox binaries are not built yet (expected in {bin_dir}); run "
            f"`bash {script}` (needs Go 1.26 and the Go module proxy; ~6 min on 2 cores)."
        )
    if shutil.which("go") is None:
        raise SandboxError(
            "The sandbox needs kube-apiserver, kube-controller-manager, kube-scheduler, "
            f"etcd and kwok, which are not built yet (expected in {bin_dir}), and it cannot "
            "build them because the Go toolchain (go >= 1.26) is not on PATH. Install Go "
            f"and run `bash {script}`, set PHASEGATE_SANDBOX_BIN to a directory holding "
            "those five binaries, or use a cluster of your own (kind, minikube, OpenShift, "
            "...) by naming its kubeconfig context as the plan's target."
        )
    _build(script, bin_dir)
    return bin_dir


def require_harness() -> Path:
    harness = harness_dir()
    if harness is None:
        raise SandboxError(
            "The sandbox needs the harness/ directory of a phasegate checkout (it builds "
            "and configures the control plane), and none was found beside this package. "
            "Run phasegate from a clone of its repository or set PHASEGATE_HARNESS_DIR."
        )
    return harness


def _build(script: Path, bin_dir: Path) -> None:
    """Run build.sh, echoing its progress to stderr and keeping the tail for errors."""
    print(f"phasegate sandbox: {script.name} is building into {bin_dir} ...", file=sys.stderr)
    tail: deque[str] = deque(maxlen=15)
    with subprocess.Popen(
        ["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            print(line, end="", file=sys.stderr)
    if proc.returncode != 0:
        raise SandboxError(
            f"Building the sandbox binaries with {script} failed (exit {proc.returncode}). "
            "Last lines of its output:\n" + "".join(tail).rstrip()
        )


def kubelet() -> Path:
    """The kubelet of the real nodes: ``PHASEGATE_KUBELET``, or the harness's build
    (``harness/kubelet.sh``, from the control plane's Kubernetes version; built here on
    first use, ~1.5 min on 2 cores)."""
    override = os.environ.get("PHASEGATE_KUBELET")
    if override:
        if not Path(override).is_file():
            raise SandboxError(f"PHASEGATE_KUBELET={override} is not a file; unset it to "
                               "build the kubelet with harness/kubelet.sh.")
        return Path(override)
    script = require_harness() / "kubelet.sh"
    out = subprocess.run(
        ["bash", str(script), "--print-path"], capture_output=True, text=True, check=True
    )
    path = Path(out.stdout.strip())
    if (path.parent / ".complete").is_file():
        return path
    if shutil.which("go") is None:
        raise SandboxError(
            f"A real node needs the kubelet, which is not built yet (expected at {path}), "
            f"and the Go toolchain (go >= 1.26) is not on PATH to build it with {script}. "
            "Install Go, or set PHASEGATE_KUBELET to a kubelet binary of the control "
            "plane's version."
        )
    _build(script, path.parent)
    return path
