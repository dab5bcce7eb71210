"""Documented exit codes (docs/cli.md)."""

PASSED = 0
GATE_FAILED = 1
BAD_INPUT = 2
INTERRUPTED = 3
