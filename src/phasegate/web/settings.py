"""What one dashboard serves: which store, which tasks directory, which token."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8377


@dataclass(frozen=True)
class Settings:
    store_url: str
    tasks_dir: Path = Path("tasks")
    domains_file: Path | None = None  # no file: no domain pages
    token: str | None = None  # every request must carry it when set
    refresh_seconds: float = 5.0  # how often a live fragment asks again


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name other than localhost may resolve anywhere
        return False
