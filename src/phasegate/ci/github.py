"""The GitHub Actions workflow (``.github/workflows/phasegate.yml``)."""

from __future__ import annotations

from phasegate.ci import layout, text
from phasegate.ci.layout import Layout

PATH = ".github/workflows/phasegate.yml"
_SECRETS = "$RUNNER_TEMP/secret-inputs.b64"
_KUBECONFIG = "$RUNNER_TEMP/kubeconfig"


def render(spec: Layout) -> str:
    lines = spec.header("github", [
        f"an environment `{layout.ENVIRONMENT}` with required reviewers (its approval is the "
        "review)",
        f"secret {layout.KUBECONFIG_SECRET}: base64 of the staging kubeconfig",
        f"secret {layout.INPUTS_SECRET}: base64 of a YAML mapping of secret inputs (may be "
        "unset)",
    ])
    lines += [
        "name: phasegate",
        "on:",
        "  pull_request:",
        "  push:",
        "    branches: [main]",
        "  workflow_dispatch:",
        "permissions:",
        "  contents: read",
        "concurrency:",
        "  # one staging rollout at a time; a newer push waits, it never cancels one",
        "  group: phasegate-${{ github.ref }}",
        "  cancel-in-progress: false",
        "env:",
        *text.mapping(2, spec.variables()),
        "jobs:",
    ]
    lines += _job("contract", "contract level (no cluster)", None, 15, [
        *_run("Contract gates", [spec.contract()]),
    ], spec)
    lines += _job("runtime-smoke", "runtime smoke (the sandbox, in this job)", "contract", 30, [
        "      - uses: actions/setup-go@v5",
        "        with:",
        '          go-version: "1.26"',
        "          cache: false",
        *_run("Tools the sandbox starts", [
            "sudo apt-get update -qq",
            f"sudo apt-get install -y -qq {layout.SANDBOX_TOOLS}"]),
        "      - name: Cache the sandbox binaries (built from Go modules the first time)",
        "        uses: actions/cache@v4",
        "        with:",
        "          path: ~/.cache/phasegate/harness",
        "          key: phasegate-sandbox-${{ runner.os }}-${{ env.PHASEGATE }}",
        *_run("Start the sandbox", spec.start_sandbox("$RUNNER_TEMP/sandbox-inputs.yaml")),
        *_run("Runtime smoke gates", [spec.smoke("$RUNNER_TEMP/sandbox-inputs.yaml")]),
    ], spec, after=_run("Stop the sandbox", ["phasegate sandbox down"], always=True))
    lines += _job("staging-plan", "staging plan (preview and hash, for review)",
                  "runtime-smoke", 15, [
        *_credentials(),
        "      - name: Plan against staging",
        "        id: plan",
        *text.block(8, "run", [
            spec.staging_plan(_KUBECONFIG, _SECRETS),
            'echo "plan_hash=$(jq -r .plan_hash plan.json)" >> "$GITHUB_OUTPUT"',
            'jq -r \'"plan hash: \\(.plan_hash)"\' plan.json >> "$GITHUB_STEP_SUMMARY"',
            'phasegate evidence latest --format md >> "$GITHUB_STEP_SUMMARY"']),
    ], spec, when="github.event_name != 'pull_request'",
        outputs={"plan_hash": "${{ steps.plan.outputs.plan_hash }}"})
    lines += _job("staging", "staging (the reviewed hash, on the pinned cluster)",
                  "staging-plan", 60, [
        *_credentials(),
        "      - name: Staging gates",
        "        env:",
        "          APPROVED_HASH: ${{ needs.staging-plan.outputs.plan_hash }}",
        *text.block(8, "run", [spec.staging(_KUBECONFIG, _SECRETS)]),
    ], spec, environment=layout.ENVIRONMENT)
    return "\n".join(lines) + "\n"


def _job(name: str, title: str, needs: str | None, minutes: int, steps: list[str],
         spec: Layout, *, after: list[str] | None = None, when: str | None = None,
         outputs: dict[str, str] | None = None, environment: str | None = None) -> list[str]:
    lines = ["", f"  {name}:", f"    name: {text.scalar(title)}"]
    if needs:
        lines.append(f"    needs: {needs}")
    if when:
        lines.append(f"    if: {when}")
    if environment:
        lines.append(f"    environment: {environment}")
    lines += ["    runs-on: ubuntu-latest", f"    timeout-minutes: {minutes}"]
    if outputs:
        lines += ["    outputs:", *[f"      {k}: {v}" for k, v in outputs.items()]]
    lines += [
        "    steps:",
        "      - uses: actions/checkout@v4",
        "      - uses: actions/setup-python@v5",
        "        with:",
        '          python-version: "3.11"',
        *_run("Install phasegate", ['python -m pip install "$PHASEGATE"']),
        *steps,
        *_run("Evidence: JUnit report and bundle", spec.evidence(), always=True),
        "      - name: Upload the evidence",
        "        if: always()",
        "        uses: actions/upload-artifact@v4",
        "        with:",
        f"          name: phasegate-{name}",
        "          path: reports/",
        "          if-no-files-found: warn",
        *(after or []),
    ]
    return lines


def _run(name: str, commands: list[str], always: bool = False) -> list[str]:
    lines = [f"      - name: {text.scalar(name)}"]
    if always:
        lines.append("        if: always()")
    return lines + text.block(8, "run", commands)


def _credentials() -> list[str]:
    """The staging kubeconfig and the secret inputs, written to files (never to a command
    line): the kubeconfig decoded, the inputs kept in base64 for ``--input @b64:``."""
    return [
        "      - name: Staging kubeconfig and secret inputs, by file",
        "        env:",
        f"          KUBECONFIG_B64: ${{{{ secrets.{layout.KUBECONFIG_SECRET} }}}}",
        f"          SECRET_INPUTS_B64: ${{{{ secrets.{layout.INPUTS_SECRET} }}}}",
        *text.block(8, "run", [
            "umask 077",
            f'printf \'%s\' "$KUBECONFIG_B64" | base64 -d > "{_KUBECONFIG}"',
            f'printf \'%s\' "$SECRET_INPUTS_B64" > "{_SECRETS}"']),
    ]
