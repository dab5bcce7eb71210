"""Reports from a recorded run: Markdown, JSON and JUnit XML, all from the same facts."""

from __future__ import annotations

FORMATS = ("md", "json", "junit")


def render(bundle: object, fmt: str) -> str:
    """Render a :class:`~phasegate.store.records.RunBundle` in ``fmt`` (md, json, junit)."""
    from phasegate.reports import facts, junit, markdown
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
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
