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


URL_SECRETS = {
    "userinfo": "Us3rinfo-Pa55word",
    "token": "qTok3n-in-the-query",
    "access_token": "acc3ss-t0ken-value",
    "sig": "S1gnature-abcdef",
    "X-Amz-Signature": "a1b2c3d4e5f6amzsig",
    "api_key": "ap1-k3y-value-77",
    "password": "qu3ry-passw0rd",
}

URL_PLAN = """apiVersion: phasegate/v1
kind: Plan
metadata: {{name: url-leak}}
assumptions:
  probes:
    - http: {{url: "{url}", timeout: 3s}}
"""


def test_credentials_written_into_a_url_are_masked_everywhere(
    http_service: HttpService, tmp_path: Path
) -> None:
    # literal credentials, no ${env:...}: a URL's userinfo password and credential query
    # parameters are secrets because of where they stand
    s = URL_SECRETS
    url = (f"http://deploy:{s['userinfo']}@127.0.0.1:{http_service.port}/health"
           f"?token={s['token']}&access_token={s['access_token']}&sig={s['sig']}"
           f"&X-Amz-Signature={s['X-Amz-Signature']}&api_key={s['api_key']}"
           f"&password={s['password']}&page=2")
    plan = tmp_path / "plan.yaml"
    plan.write_text(URL_PLAN.format(url=url))
    store = tmp_path / "store" / "e.db"
    outputs = []
    for extra in ((), ("--json",)):
        checked = phasegate("-vv", "check", str(plan), *extra, "--store", str(store))
        assert checked.returncode == 1, checked.stderr  # 404: the query is not a route
        outputs += [checked.stdout, checked.stderr]
    probed = phasegate("-vv", "probe", f"http: {{url: '{url}'}}", "--store", str(store))
    outputs += [probed.stdout, probed.stderr]
    for fmt in ("md", "json", "junit", "html"):
        report = tmp_path / f"report.{fmt}"
        exported = phasegate("-vv", "evidence", "latest", "-f", fmt, "-o", str(report),
                             "--store", str(store))
        outputs += [report.read_text(), exported.stderr]
    for args in (("show", "latest", "--json"), ("retro", "latest"), ("retro", "latest", "--json")):
        shown = phasegate("-vv", *args, "--store", str(store))
        assert shown.returncode == 0, shown.stderr
        outputs += [shown.stdout, shown.stderr]
    artifacts = b"".join(p.read_bytes() for p in store.parent.iterdir() if p.is_file())
    assert "page=2" in outputs[1]  # the URL itself is still shown, minus its secrets
    assert "127.0.0.1" in outputs[2]
    for name, secret in s.items():
        for text in outputs:
            assert secret not in text, name
        assert secret.encode() not in artifacts, name
