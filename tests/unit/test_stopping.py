import asyncio

from phasegate.errors import TargetError
from phasegate.workflow import stopping


def test_interruptions_and_errors_are_told_apart() -> None:
    assert stopping.status_of(KeyboardInterrupt()) == "interrupted"
    assert stopping.status_of(asyncio.CancelledError()) == "interrupted"
    assert stopping.status_of(TargetError("unreachable")) == "error"
    assert "phasegate resume r1" in stopping.summary_of(KeyboardInterrupt(), "r1")
    assert stopping.summary_of(TargetError("cluster gone"), "r1") == (
        "stopped by an error: cluster gone")
