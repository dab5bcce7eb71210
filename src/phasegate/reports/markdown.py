"""The Markdown evidence bundle: for each check, what, expected, observed, output, when."""

from __future__ import annotations

from typing import Any

from phasegate.kube import identity

_MARK = {True: "✅ passed", False: "❌ failed"}


def render(facts: dict[str, Any]) -> str:
    run = facts["run"]
    totals = facts["totals"]
    lines = [
        f"# Evidence — run {run['id']}",
        "",
        f"- **command:** `{run['command']}`"
        + (f" · **plan:** `{run['plan']}`" if run["plan"] else ""),
        f"- **status:** {run['status']}",
        f"- **started:** {run['started']} · **finished:** {run['finished'] or '—'}"
        + (f" · **duration:** {run['duration']} s" if run["duration"] is not None else ""),
        f"- **checks:** {totals['passed']} passed, {totals['failed']} failed "
        f"({totals['attempts']} attempts)",
    ]
    if run.get("cluster"):
        cluster = run["cluster"]
        lines.append(f"- **cluster:** context `{cluster['context']}` · {cluster['server']} · "
                     f"{identity.describe(cluster)} · {cluster['version']}")
    if run["plan_hash"]:
        lines.append(f"- **plan hash:** `{run['plan_hash'][:16]}`")
    if run["summary"]:
        lines += ["", run["summary"]]
    for step in facts["steps"]:
        lines += ["", f"## {step['stage']} · {step['name']} — {step['status']}", ""]
        if step["timeout"]:
            lines.append(f"Gate timeout {step['timeout']:g} s; took {step['duration']} s.")
            lines.append("")
        if step["detail"]:
            lines += [step["detail"], ""]
        if not step["checks"]:
            continue
        lines += ["| check | result | expected | observed | attempts |", "|---|---|---|---|---|"]
        for check in step["checks"]:
            lines.append(
                f"| `{_cell(check['name'])}` | {_MARK[check['passed']]} | "
                f"{_cell(check['expected'])} | {_cell(check['observed'])} | {check['attempts']} |"
            )
        for check in step["checks"]:
            lines += _check_section(check)
    for artifact in facts["artifacts"]:
        lines += ["", f"## Artifact: {artifact['name']}", "", "```", artifact["content"], "```"]
    return "\n".join(lines) + "\n"


def _check_section(check: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"### {_MARK[check['passed']]} · `{check['probe']}` · {check['name']}",
        "",
        f"- **expected:** {check['expected']}",
        f"- **observed:** {check['observed']}",
        f"- **when:** {check['started']} → {check['finished']} ({check['duration']} s, "
        f"{check['attempts']} attempt{'s' if check['attempts'] != 1 else ''})",
    ]
    if check["error"]:
        lines.append("- **note:** phasegate could not decide (probe error)")
    if check.get("stopped"):
        lines.append("- **note:** still waiting when another check of this gate failed fast; "
                     "its last answer is progress, not a cause")
    if check["output"]:
        fence = "~~~~" if "```" in check["output"] else "```"
        lines += ["", f"{fence}text", check["output"], fence]
    return lines


def _cell(text: str) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= 160 else flat[:159] + "…"
