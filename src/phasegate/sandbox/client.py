"""An API client for a running sandbox, as its admin or as the restricted user."""

from __future__ import annotations

from typing import Literal

from phasegate.sandbox.api import Api
from phasegate.sandbox.pki import ca_cert, client_pair
from phasegate.sandbox.state import SandboxInfo

PKI_DIR = "pki"


def connect(info: SandboxInfo, user: Literal["admin", "restricted"] = "admin") -> Api:
    """``Api`` authenticated with ``user``'s client certificate (close it, or use ``with``)."""
    pki = info.work_dir / PKI_DIR
    return Api(info.api_url, ca_cert(pki), client_pair(pki, user))
