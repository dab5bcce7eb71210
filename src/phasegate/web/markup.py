"""Markdown the reports render, shown as HTML. Raw HTML in it is escaped, never passed on:
observed text (an HTTP body, a log line) may contain anything."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def html(markdown: str) -> str:
    return str(_parser().render(markdown))
