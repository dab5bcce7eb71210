"""The http probe builds a TLS context once per CA file (as the file is now), not once per
request: building one cost a 500-probe health check most of its time."""

from __future__ import annotations

import os
from pathlib import Path

from phasegate.probes import http
from phasegate.probes.base import ProbeContext
from tests.fixtures import pki


def test_one_context_per_ca_file_as_it_is_now(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.authority(tmp_path / "one").pem.read_bytes())
    ctx = ProbeContext(base_dir=tmp_path)
    params = http.HttpParams(url="https://127.0.0.1:1/", ca="ca.pem")
    first = http.ssl_context(params, ctx)
    assert http.ssl_context(params, ctx) is first
    default = http.ssl_context(http.HttpParams(url="https://127.0.0.1:1/"), ctx)
    assert default is http.ssl_context(http.HttpParams(url="https://x/"), ctx)
    assert default is not first
    assert http.ssl_context(http.HttpParams(url="https://x/", verify=False), ctx) is False
    # a CA file replaced (a rotation) is read again
    ca.write_bytes(pki.authority(tmp_path / "two", "next CA").pem.read_bytes())
    os.utime(ca, ns=(1, 1))
    assert http.ssl_context(params, ctx) is not first
