"""A self-contained HTML evidence page (no scripts, no external assets): the same facts as
the Markdown bundle, for attaching to a change ticket or opening from a CI artifact."""

from __future__ import annotations

from html import escape
from typing import Any

from phasegate.kube import identity

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2330}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;border-bottom:1px solid #eef;
text-align:left;vertical-align:top}.passed{color:#17733a;font-weight:600}
.failed{color:#b3261e;font-weight:600}pre{background:#f6f7f9;padding:.6rem;overflow:auto;
font-size:12px;white-space:pre-wrap}dt{font-weight:600}dd{margin:0 0 .4rem 0}
"""


def render(facts: dict[str, Any]) -> str:
    run = facts["run"]
    totals = facts["totals"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Evidence — run {escape(run['id'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Evidence — run {escape(run['id'])}</h1><dl>",
        _item("command", run["command"]),
        _item("plan", run["plan"] or "—"),
        _item("status", run["status"]),
        _item("started", run["started"]),
        _item("finished", run["finished"] or "—"),
        _item("checks", f"{totals['passed']} passed, {totals['failed']} failed "
                        f"({totals['attempts']} attempts)"),
    ]
    if run.get("cluster"):
        cluster = run["cluster"]
        parts.append(_item("cluster", f"{cluster['context']} · {cluster['server']} · "
                                      f"{identity.describe(cluster)}"))
    if run["summary"]:
        parts.append(_item("summary", run["summary"]))
    parts.append("</dl>")
    for step in facts["steps"]:
        parts.append(f"<h2>{escape(step['stage'])} · {escape(step['name'])} — "
                     f"{escape(step['status'])}</h2>")
        if step["detail"]:
            parts.append(f"<p>{escape(step['detail'])}</p>")
        parts.append("<table><tr><th>check</th><th>result</th><th>expected</th>"
                     "<th>observed</th><th>attempts</th><th>when</th></tr>")
        for check in step["checks"]:
            verdict = "passed" if check["passed"] else "failed"
            parts.append(
                f"<tr><td>{escape(check['name'])}</td><td class={verdict}>{verdict}</td>"
                f"<td>{escape(check['expected'])}</td><td>{escape(check['observed'])}</td>"
                f"<td>{check['attempts']}</td><td>{escape(check['finished'])}</td></tr>")
        parts.append("</table>")
        for check in step["checks"]:
            if check["output"]:
                parts.append(f"<details><summary>output of {escape(check['name'])}</summary>"
                             f"<pre>{escape(check['output'])}</pre></details>")
    for artifact in facts["artifacts"]:
        parts.append(f"<h2>Artifact: {escape(artifact['name'])}</h2>"
                     f"<pre>{escape(artifact['content'])}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _item(term: str, value: str) -> str:
    return f"<dt>{escape(term)}</dt><dd>{escape(str(value))}</dd>"
