"""The CA fingerprint a plan pins is the one users compute with openssl, and the system trust
store (which names no one cluster) gives none."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
from pathlib import Path

from phasegate.kube import identity


def _a_ca(tmp_path: Path) -> tuple[Path, bytes]:
    der = ssl.create_default_context().get_ca_certs(binary_form=True)[0]
    pem = tmp_path / "ca.crt"
    pem.write_text(ssl.DER_cert_to_PEM_cert(der))
    return pem, der


def test_fingerprint_is_what_openssl_prints(tmp_path: Path) -> None:
    pem, der = _a_ca(tmp_path)
    fingerprint = identity.ca_fingerprint(ssl.create_default_context(cafile=str(pem)))
    assert fingerprint == "sha256:" + hashlib.sha256(der).hexdigest()
    shown = subprocess.run(f"openssl x509 -in {pem} -outform der | sha256sum", shell=True,
                           capture_output=True, text=True, check=True).stdout.split()[0]
    assert fingerprint == f"sha256:{shown}"


def test_no_fingerprint_without_a_cluster_ca_of_its_own(tmp_path: Path) -> None:
    assert identity.ca_fingerprint(ssl.create_default_context()) == ""
    insecure = ssl.create_default_context(cafile=str(_a_ca(tmp_path)[0]))
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    assert identity.ca_fingerprint(insecure) == ""


def test_recorded_identity_says_how_the_cluster_was_identified() -> None:
    assert identity.describe({"cluster_uid": "u-1"}) == "kube-system UID u-1"
    by_ca = {"identified_by": identity.BY_SERVER_CA, "ca_fingerprint": "sha256:ab"}
    assert identity.describe(by_ca) == "identified by server + CA sha256:ab"
    assert "server URL only" in identity.describe({"identified_by": identity.BY_SERVER})
