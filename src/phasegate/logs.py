"""Logging that can never print a secret, at any verbosity."""

from __future__ import annotations

import logging

from phasegate import secrets


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = secrets.mask(record.getMessage())
        record.args = None
        return True


def configure(verbosity: int) -> None:
    level = logging.DEBUG if verbosity >= 2 else logging.INFO
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpcore", "asyncio"):  # their debug lines add nothing to evidence
        logging.getLogger(noisy).setLevel(max(level, logging.INFO))
