"""YAML written as text, so that the generated file keeps its comments and reads like one
written by hand. Scalars are JSON-quoted (JSON strings are YAML), commands are literal
blocks: nothing in them is re-quoted on the way to the shell."""

from __future__ import annotations

import json


def scalar(value: str) -> str:
    return json.dumps(value)


def block(indent: int, key: str, lines: list[str]) -> list[str]:
    """``key: |`` and ``lines`` under it, ``indent`` spaces deep."""
    pad = " " * indent
    return [f"{pad}{key}: |", *[f"{pad}  {line}" if line else "" for line in lines]]


def mapping(indent: int, values: dict[str, str]) -> list[str]:
    pad = " " * indent
    return [f"{pad}{key}: {scalar(value)}" for key, value in values.items()]


def items(indent: int, commands: list[str]) -> list[str]:
    """A list of commands, each a literal block (GitLab's ``script:`` items)."""
    pad = " " * indent
    return [line for command in commands for line in (f"{pad}- |", f"{pad}  {command}")]
