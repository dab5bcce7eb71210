"""Runnable example images: OCI layouts built from Debian's ``busybox-static``.

One layer holds ``/bin/busybox`` with a symlink per applet (a shell, ``httpd``,
``sleep``, ...), a ``/www/health`` file and ``/app/run``, the entrypoint script whose
first argument picks what the container does:

    serve [PORT]   httpd on PORT (8080) serving /www: GET /health answers "ok"
    migrate        prints two lines and exits 0 (the shop's migration Job)
    fail           prints a line to stderr and exits 1 (a real crash loop)
    anything else  is run as a command (``sh -c '...'`` for a test's own script)

The sandbox's real node runs them for real; KWOK's fake nodes only need them to exist.
The pause image (the pod sandbox containerd holds namespaces with) is the same layer
running ``sleep``. Same busybox, same bytes: the layer is built deterministically.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

from phasegate.sandbox import oci_images
from phasegate.sandbox.errors import SandboxError

BUSYBOX = Path("/bin/busybox")
INSTALL = "apt-get install busybox-static"
PAUSE_REPOSITORY = "phasegate/pause"
PAUSE_TAG = "1"
RUN = """#!/bin/sh
# Entrypoint of phasegate's example images (src/phasegate/sandbox/busybox_images.py).
case "${1:-serve}" in
  serve)
    port="${2:-8080}"
    echo "example image ${IMAGE_NAME:-?}: httpd on :$port serving /www (GET /health)"
    # As PID 1, httpd would ignore SIGTERM and every stop would wait out the grace period.
    httpd -f -v -p "$port" -h /www &
    child=$!
    trap 'echo "stopping on SIGTERM"; kill "$child"; wait "$child"; exit 0' TERM INT
    wait "$child" ;;
  migrate)
    echo "migrating the schema"
    echo "migration done"
    exit 0 ;;
  fail)
    echo "example image ${IMAGE_NAME:-?}: exiting 1 on purpose" >&2
    exit 1 ;;
  *)
    exec "$@" ;;
esac
"""
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def available() -> bool:
    return BUSYBOX.is_file() and _static(BUSYBOX)


def require() -> Path:
    """Debian's static busybox, or a SandboxError saying how to get it."""
    if not BUSYBOX.is_file():
        raise SandboxError(
            f"The sandbox builds its runnable example images from {BUSYBOX} (Debian's "
            f"busybox-static), which is not installed: `{INSTALL}` (scripts/ensure-test-tools "
            "does it for the test suite)."
        )
    if not _static(BUSYBOX):
        raise SandboxError(
            f"{BUSYBOX} is a dynamically linked busybox; the example images need the static "
            f"one (Debian's busybox-static: `{INSTALL}`)."
        )
    return BUSYBOX


def fingerprint() -> str:
    """Part of the layout cache's key: another busybox, or another entrypoint script,
    builds other bytes."""
    return hashlib.sha256(require().read_bytes() + RUN.encode()).hexdigest()[:16]


def build(layout: Path, repository: str, tag: str) -> oci_images.Built:
    """Add ``repository:tag`` to ``layout``: the busybox layer, with a config for it."""
    raw, layer = _layer(require())
    if repository == PAUSE_REPOSITORY:
        process: dict[str, object] = {"Entrypoint": ["/bin/sleep", "2147483647"]}
    else:
        port = "5432" if repository.endswith("/db") else "8080"
        process = {
            "Entrypoint": ["/bin/sh", "/app/run"],
            "Cmd": ["serve", port],
            "ExposedPorts": {f"{port}/tcp": {}},
        }
    config = {
        "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"IMAGE_NAME={repository}:{tag}"],
        "WorkingDir": "/",
        # Distinct configs give every image its own digest, as real images have.
        "Labels": {"org.opencontainers.image.title": f"{repository}:{tag}"},
        **process,
    }
    return oci_images.build_image(layout, tag, layer, raw, config)


@functools.cache
def _layer(busybox: Path) -> tuple[bytes, bytes]:
    """(the layer's tar, its gzip), built once per process."""
    applets = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory, mode in (("bin", 0o755), ("sbin", 0o755), ("usr", 0o755),
                                ("usr/bin", 0o755), ("usr/sbin", 0o755), ("etc", 0o755),
                                ("www", 0o755), ("app", 0o755), ("tmp", 0o1777),
                                ("root", 0o700), ("proc", 0o555), ("sys", 0o555),
                                ("dev", 0o755)):
            tar.addfile(_info(directory, tarfile.DIRTYPE, mode))
        data = busybox.read_bytes()
        tar.addfile(_info("bin/busybox", tarfile.REGTYPE, 0o755, len(data)), io.BytesIO(data))
        for path in sorted(set(applets)):
            if path != "bin/busybox":
                link = _info(path, tarfile.SYMTYPE, 0o777)
                link.linkname = "/bin/busybox"
                tar.addfile(link)
        for path, text, mode in (("app/run", RUN, 0o755), ("www/health", "ok\n", 0o644),
                                 ("www/index.html", "phasegate example image\n", 0o644),
                                 ("etc/passwd", PASSWD, 0o644), ("etc/group", GROUP, 0o644)):
            body = text.encode()
            tar.addfile(_info(path, tarfile.REGTYPE, mode, len(body)), io.BytesIO(body))
    raw = out.getvalue()
    return raw, gzip.compress(raw, mtime=0)


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    return info


def _static(path: Path) -> bool:
    """An ELF file without a PT_INTERP program header needs no dynamic loader."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only (amd64)
                return False
            phoff = int.from_bytes(head[32:40], "little")
            phentsize = int.from_bytes(head[54:56], "little")
            phnum = int.from_bytes(head[56:58], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        if int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") == 3:  # PT_INTERP
            return False
    return True

