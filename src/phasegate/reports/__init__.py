"""Reports from a recorded run: Markdown, JSON, JUnit XML and HTML, all from the same facts."""

from __future__ import annotations

FORMATS = ("md", "json", "junit", "html")


def render(bundle: object, fmt: str) -> str:
    """Render a :class:`~phasegate.store.records.RunBundle` in ``fmt`` (md, json, junit,
    html)."""
    from phasegate.reports import facts, html, junit, markdown
    from phasegate.store.records import RunBundle

    assert isinstance(bundle, RunBundle)
    data = facts.collect(bundle)
    if fmt == "md":
        return markdown.render(data)
    if fmt == "json":
        import json

        return json.dumps(data, indent=2, sort_keys=False) + "\n"
    if fmt == "junit":
        return junit.render(data)
    if fmt == "html":
        return html.render(data)
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
