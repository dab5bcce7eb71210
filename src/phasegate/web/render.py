"""Templates (Jinja2, autoescaped) and the headers every answer carries."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

# Scripts and styles come from /static only: a value that slipped past escaping still
# could not run. SVG attributes (bars, strips) are not styles, so none is inline.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATUS_CLASS = {"passed": "ok", "healthy": "ok", "attested": "ok", "running": "live",
                "failed": "bad", "error": "bad", "timed out": "bad", "down": "bad",
                "refused": "warn", "interrupted": "warn", "degraded": "warn",
                "blocked": "warn", "passing": "ok", "failing": "bad"}


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("phasegate.web", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["tone"] = lambda status: STATUS_CLASS.get(str(status), "plain")
    env.filters["trusted"] = Markup  # HTML that markup.html rendered with raw HTML escaped
    return env


def page(template: str, status_code: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    text = environment().get_template(template).render(**context)
    return HTMLResponse(text, status_code=status_code, headers=headers)


def text(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
