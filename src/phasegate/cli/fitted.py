"""Tables that never break a word: object names, refs and paths stay whole.

Rich folds a word that is longer than its column (``ghcr.io/org/ap`` / ``i@sha256:…``), and
its column shrinking ignores how long a column's longest word is. Here every column is given
at least its longest word; when the terminal is too narrow even for that, each row becomes a
block of ``header: value`` lines instead, and a word longer than the line is left for the
terminal to wrap (so copying it still gives the whole name).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any


class Fitted:
    """A table of markup cells, laid out when the width is known."""

    def __init__(self, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                 whole: Sequence[int] = (), title: str | None = None) -> None:
        self.headers = list(headers)
        self.rows = [list(row) for row in rows]
        self.whole = set(whole)  # columns whose cells never wrap at all (marks, times)
        self.title = title

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.measure import Measurement
        from rich.text import Text

        cells = [[Text.from_markup(c) for c in row] for row in self.rows]
        heads = [Text.from_markup(h) for h in self.headers]
        least, most = [], []
        for index, head in enumerate(heads):
            column = [head, *(row[index] for row in cells)]
            sizes = [Measurement.get(console, options, c) for c in column]
            longest = max(s.maximum for s in sizes)
            most.append(max(longest, 1))
            least.append(longest if index in self.whole else max(s.minimum for s in sizes))
        overhead = _overhead(console, options, len(heads))
        room = options.max_width - overhead
        if sum(least) > room:
            yield from self._blocks(heads, cells)
            return
        yield self._table(_widths(least, most, room))

    def _table(self, widths: list[int]) -> Any:
        from rich.table import Table

        table = Table(show_edge=False, header_style="bold", title=self.title)
        for header, width in zip(self.headers, widths, strict=True):
            table.add_column(header, width=width, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def _blocks(self, heads: list[Any], cells: list[list[Any]]) -> Iterator[Any]:
        from rich.text import Text

        if self.title:
            yield Text(self.title, style="bold", no_wrap=True, overflow="ignore")
        for row in cells:
            first = [c for c in row[:2] if c.plain]
            line = Text(" ").join(first) if first else Text("")
            line.no_wrap, line.overflow = True, "ignore"
            yield line
            for head, cell in zip(heads[2:], row[2:], strict=True):
                if cell.plain:
                    yield Text.assemble("  ", (head.plain, "dim"), ": ", cell, no_wrap=True,
                                        overflow="ignore")


def _overhead(console: Any, options: Any, count: int) -> int:
    """What a table of ``count`` columns needs beyond its cells: padding and rules."""
    from rich.measure import Measurement
    from rich.table import Table

    probe = Table(show_edge=False)
    for _ in range(count):
        probe.add_column(width=1)
    probe.add_row(*["x"] * count)
    return int(Measurement.get(console, options.update_width(10_000), probe).maximum) - count


def _widths(least: list[int], most: list[int], room: int) -> list[int]:
    """Each column its longest word at least; what is left goes where text would wrap."""
    if sum(most) <= room:
        return most
    spare = room - sum(least)
    wants = [m - lo for lo, m in zip(least, most, strict=True)]
    total = sum(wants) or 1
    widths = [lo + spare * want // total for lo, want in zip(least, wants, strict=True)]
    return widths
