"""The sandbox's OCI registry: Debian's ``docker-registry`` over TLS, seeded with skopeo.

It listens on a free loopback port with a serving certificate for 127.0.0.1 and
localhost, issued by the sandbox's own CA, and lets anyone pull and push (no auth: a
throw-away registry on loopback). The seed images are named in
``harness/registry-images.txt``; their OCI layouts are built once into the per-user
cache (runnable busybox images, see busybox_images.py, where busybox-static is
installed) and pushed concurrently by ``skopeo copy``.

The CA is copied to ``~/.config/containers/certs.d/127.0.0.1:PORT/ca.crt``, where
skopeo, podman and phasegate's ``image`` probe look for a registry's CA, so they all
trust the registry without a flag. ``down`` removes that directory again.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from phasegate.sandbox import busybox_images, oci_images, pki
from phasegate.sandbox.binaries import require_harness
from phasegate.sandbox.errors import SandboxError
from phasegate.sandbox.paths import cache_root

SEED_FILE = "registry-images.txt"
PLATFORM = "linux/amd64"
# Part of the layout cache's key: bump it when oci_images builds different bytes.
LAYOUT_FORMAT = "2"
INSTALL = "apt-get install docker-registry skopeo"
SERVING_DNS = ("localhost",)
SERVING_IPS = ("127.0.0.1",)
PUSH_TIMEOUT = 60.0

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"\w[\w.-]{0,127}")


@dataclass(frozen=True)
class Tools:
    registry: str  # docker-registry
    skopeo: str


def tools() -> Tools:
    """Both programs the registry needs, or a SandboxError saying how to get them."""
    found = {name: shutil.which(name) for name in ("docker-registry", "skopeo")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise SandboxError(
            f"The sandbox's local image registry needs docker-registry and skopeo, and "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed "
            f"(not on PATH). Install them (Debian/Ubuntu: `{INSTALL}`; scripts/ensure-test-tools "
            "does it for the test suite), or start the sandbox without a registry: "
            "`phasegate sandbox up --no-registry` (plans that check images then need a "
            "registry of your own)."
        )
    return Tools(registry=str(found["docker-registry"]), skopeo=str(found["skopeo"]))


def seed_images(path: Path | None = None) -> list[str]:
    """The ``repo:tag`` lines of the seed file (``harness/registry-images.txt``)."""
    source = path or require_harness() / SEED_FILE
    try:
        lines = source.read_text().splitlines()
    except OSError as exc:
        raise SandboxError(
            f"The sandbox cannot read its registry's image list {source}: {exc}"
        ) from None
    images = []
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        repository, _, tag = entry.rpartition(":")
        if not (_REPOSITORY.fullmatch(repository) and _TAG.fullmatch(tag)):
            raise SandboxError(
                f"{source}:{number}: {entry!r} is not `repository:tag` (lower-case "
                "repository path, e.g. shop/api:1.4.2)."
            )
        images.append(entry)
    if not images:
        raise SandboxError(f"{source} names no image for the sandbox's registry.")
    return images


def certs_dir(host: str) -> Path:
    """Where containers tools (and the image probe) look for ``host``'s CA."""
    return Path.home() / ".config" / "containers" / "certs.d" / host


@dataclass(frozen=True)
class Prepared:
    """A registry ready to be started: its address, CA, command line and storage."""

    host: str  # 127.0.0.1:PORT
    ca: Path
    argv: list[str]
    storage: Path


def prepare(work: Path, pki_dir: Path, port: int, found: Tools) -> Prepared:
    """Issue the serving certificate and write the configuration into ``work/registry``."""
    directory = work / "registry"
    directory.mkdir(parents=True, exist_ok=True)
    serving = pki.issue_serving(pki_dir, "registry", SERVING_DNS, SERVING_IPS)
    storage = directory / "storage"
    config = directory / "config.yml"
    # JSON strings are YAML double-quoted scalars: any path is written safely.
    config.write_text(
        "# docker-registry configuration written by phasegate's sandbox\n"
        "version: 0.1\n"
        "log:\n"
        "  level: warn\n"
        "  accesslog: {disabled: true}\n"
        "storage:\n"
        f"  filesystem: {{rootdirectory: {json.dumps(str(storage))}}}\n"
        "  maintenance: {uploadpurging: {enabled: false}}\n"
        "  delete: {enabled: true}\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n"
        f"  secret: {secrets.token_hex(16)}\n"
        "  tls:\n"
        f"    certificate: {json.dumps(str(serving.cert))}\n"
        f"    key: {json.dumps(str(serving.key))}\n"
    )
    return Prepared(
        host=f"127.0.0.1:{port}",
        ca=pki.ca_cert(pki_dir),
        argv=[found.registry, "serve", str(config)],
        storage=storage,
    )


def trust(host: str, ca: Path) -> Path:
    """Copy the CA to ``host``'s certs.d directory; returns that directory."""
    directory = certs_dir(host)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca, directory / "ca.crt")
    return directory


def untrust(host: str, ca: Path | None) -> None:
    """Remove ``host``'s certs.d directory, unless it now holds another CA than ours
    (a later registry on the same port, after this sandbox's files were lost)."""
    directory = certs_dir(host)
    written = directory / "ca.crt"
    try:
        if ca is not None and written.read_bytes() != ca.read_bytes():
            return
    except OSError:
        pass  # ours is gone or was never written: the directory is ours to remove
    shutil.rmtree(directory, ignore_errors=True)


class Seeding:
    """Seeds a registry in a background thread while the control plane starts.

    Leaving the ``with`` block stops the wait for the registry (a failed or interrupted
    start must not wait for it) and waits for pushes in flight, so that ``down`` never
    stops the registry under a running skopeo.
    """

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="registry")
        self._cancel = threading.Event()
        self._future: concurrent.futures.Future[float] | None = None

    def __enter__(self) -> Seeding:
        return self

    def __exit__(self, *_: object) -> None:
        self._cancel.set()
        self._pool.shutdown(wait=True)

    def start(
        self,
        prepared: Prepared,
        found: Tools,
        images: list[str],
        timeout: float,
        alive: Callable[[], bool],
    ) -> None:
        """``alive`` is called while waiting; it raises (or returns False) when the
        registry process has died."""
        self._future = self._pool.submit(
            seed, prepared, found, images, timeout, lambda: not self._cancel.is_set() and alive()
        )

    def result(self) -> float | None:
        """Seconds the seeding took (None if it was never started); raises its error."""
        return None if self._future is None else self._future.result()


def seed(
    prepared: Prepared,
    found: Tools,
    images: list[str],
    timeout: float,
    check: Callable[[], bool],
) -> float:
    """Wait until the registry answers, then push ``images``; returns the seconds taken.

    ``check`` is called while waiting: it raises, or returns False, to give up.
    """
    started = time.monotonic()
    _wait_ready(prepared, started + timeout, check)
    layouts = cached_layouts(images)
    cert_dir = certs_dir(prepared.host)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(images)) as pool:
        pushes = [
            pool.submit(_push, found.skopeo, cert_dir, layouts[image], image, prepared.host)
            for image in images
        ]
        for push in pushes:
            push.result()
    return time.monotonic() - started


def _wait_ready(prepared: Prepared, deadline: float, check: Callable[[], bool]) -> None:
    context = ssl.create_default_context(cafile=str(prepared.ca))
    last = "no answer yet"
    with httpx.Client(verify=context, timeout=2.0) as client:
        while check():
            try:
                resp = client.get(f"https://{prepared.host}/v2/")
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.TransportError as exc:
                last = str(exc) or type(exc).__name__
            if time.monotonic() > deadline:
                raise TimeoutError(f"docker-registry did not answer /v2/ in time ({last})")
            time.sleep(0.02)
    raise SandboxError("docker-registry was given up on before it answered /v2/")


def _push(skopeo: str, cert_dir: Path, layout: Path, image: str, host: str) -> None:
    _, _, tag = image.rpartition(":")
    # --insecure-policy: the source is a layout we just built; there is no signature to
    # check, and the machine's policy.json may not even exist.
    argv = [
        skopeo, "--insecure-policy", "copy", "--quiet", "--dest-cert-dir", str(cert_dir),
        f"oci:{layout}:{tag}", f"docker://{host}/{image}",
    ]  # fmt: skip
    try:
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=PUSH_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        raise SandboxError(
            f"Pushing {image} to the sandbox's registry failed: `{' '.join(argv)}` exited "
            f"{exc.returncode}: {(exc.stderr or '').strip()[-1500:]}"
        ) from None
    except subprocess.TimeoutExpired:
        raise SandboxError(
            f"Pushing {image} to the sandbox's registry took over {PUSH_TIMEOUT:.0f} s: "
            f"`{' '.join(argv)}`"
        ) from None


def cached_layouts(images: list[str]) -> dict[str, Path]:
    """An OCI layout per repository holding its tags, built once per image list.

    The cache directory is named by a hash of the list and the builder's format and
    is renamed into place complete, so concurrent sandboxes never see half of one.
    """
    repositories = list(dict.fromkeys(image.rpartition(":")[0] for image in images))
    names = {repo: f"{n:02d}-{repo.replace('/', '_')}" for n, repo in enumerate(repositories)}
    # Runnable busybox images where Debian's busybox-static is installed (a real node
    # needs them; lifecycle.py requires it then), one-file images otherwise.
    runnable = busybox_images.fingerprint() if busybox_images.available() else "tiny"
    key = hashlib.sha256(
        f"{LAYOUT_FORMAT} {PLATFORM} {runnable}\n{chr(10).join(images)}".encode()
    )
    root = cache_root() / "registry-images" / key.hexdigest()[:16]
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=root.parent))
        for image in images:
            repo, _, tag = image.rpartition(":")
            if runnable == "tiny":
                oci_images.build(building / names[repo], tag, [PLATFORM],
                                 content=f"sandbox {repo}")
            else:
                busybox_images.build(building / names[repo], repo, tag)
        try:
            os.rename(building, root)
        except OSError:  # another sandbox finished the same layouts first
            shutil.rmtree(building, ignore_errors=True)
    return {image: root / names[image.rpartition(":")[0]] for image in images}
