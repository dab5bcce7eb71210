"""A planted secret never reaches the store, logs, reports or errors — in any encoding."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.fixtures.servers import HttpService
from tests.integration.cli_helpers import phasegate

SECRET = "pg-s3cret-Tok3n-9f8e7d"

PLAN = """apiVersion: phasegate/v1
kind: Plan
metadata: {{name: leak-test}}
assumptions:
  probes:
    - http:
        url: "{url}/health?token=${{env:PG_LEAK_TOKEN}}"
        headers: {{Authorization: "Bearer ${{env:PG_LEAK_TOKEN}}"}}
    - command:
        run: [sh, -c, 'echo "$T"; printf %s "$T" | base64; echo "{{\\"t\\": \\"$T\\"}}"; exit 1']
        env: {{T: "${{env:PG_LEAK_TOKEN}}"}}
    - file: {{path: "missing-${{env:PG_LEAK_TOKEN}}.yaml"}}
"""


def forms() -> list[str]:
    return [SECRET, base64.b64encode(SECRET.encode()).decode().rstrip("="),
            json.dumps(SECRET)[1:-1]]


def test_secret_is_masked_everywhere(http_service: HttpService, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(url=http_service.url))
    store = tmp_path / "store" / "e.db"
    env = {"PG_LEAK_TOKEN": SECRET}
    outputs = []
    checked = phasegate("-vv", "check", str(plan), "--store", str(store), env=env)
    assert checked.returncode == 1, checked.stderr
    outputs += [checked.stdout, checked.stderr]
    as_json = phasegate("-vv", "check", str(plan), "--json", "--store", str(store), env=env)
    outputs += [as_json.stdout, as_json.stderr]
    for fmt in ("md", "json", "junit", "html"):
        report = tmp_path / f"report.{fmt}"
        phasegate("-vv", "evidence", "latest", "-f", fmt, "-o", str(report), "--store", str(store))
        outputs.append(report.read_text())
    outputs.append(phasegate("show", "latest", "--json", "--store", str(store)).stdout)
    artifacts = b"".join(p.read_bytes() for p in store.parent.iterdir() if p.is_file())
    assert "******" in as_json.stdout  # the secret was there, and was masked
    for form in forms():
        for text in outputs:
            assert form not in text
        assert form.encode() not in artifacts
