"""The runnable example images: deterministic bytes, a shell, an entrypoint that serves."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from phasegate.sandbox import busybox_images


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def test_the_same_image_builds_the_same_bytes_and_each_image_its_own_digest(
    tmp_path: Path,
) -> None:
    first = busybox_images.build(tmp_path / "a", "shop/api", "1.4.2")
    again = busybox_images.build(tmp_path / "b", "shop/api", "1.4.2")
    other = busybox_images.build(tmp_path / "c", "shop/web", "1.0")
    assert first.digest == again.digest
    assert other.digest != first.digest


def test_the_image_runs_its_entrypoint_with_busybox_and_serves_health(tmp_path: Path) -> None:
    built = busybox_images.build(tmp_path, "shop/db", "16")
    manifest = json.loads(blob(tmp_path, built.digest))
    config = json.loads(blob(tmp_path, manifest["config"]["digest"]))
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert config["config"]["Entrypoint"] == ["/bin/sh", "/app/run"]
    assert config["config"]["Cmd"] == ["serve", "5432"]  # the database's port
    layer = gzip.decompress(blob(tmp_path, manifest["layers"][0]["digest"]))
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["bin/busybox"].isfile() and members["bin/busybox"].mode == 0o755
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"
        assert "usr/sbin/httpd" in members or "sbin/httpd" in members
        health = tar.extractfile("www/health")
        assert health is not None and health.read() == b"ok\n"
        run = tar.extractfile("app/run")
        assert run is not None and b"trap" in run.read()  # stops on SIGTERM as PID 1
    assert config["rootfs"]["diff_ids"][0].startswith("sha256:")


def test_the_pause_image_only_sleeps(tmp_path: Path) -> None:
    built = busybox_images.build(tmp_path, busybox_images.PAUSE_REPOSITORY,
                                 busybox_images.PAUSE_TAG)
    manifest = json.loads(blob(tmp_path, built.digest))
    config = json.loads(blob(tmp_path, manifest["config"]["digest"]))
    assert config["config"]["Entrypoint"] == ["/bin/sleep", "2147483647"]
    assert "Cmd" not in config["config"]
