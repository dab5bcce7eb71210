"""The GitLab CI pipeline (``.gitlab-ci.yml``)."""

from __future__ import annotations

from phasegate.ci import layout, text
from phasegate.ci.layout import Layout

PATH = ".gitlab-ci.yml"
_SECRETS = "$CI_PROJECT_DIR/.secret-inputs.b64"
# a File-type CI/CD variable: GitLab writes the kubeconfig to a file and names its path
_KUBECONFIG = "$STAGING_KUBECONFIG"
_SANDBOX_INPUTS = "$CI_PROJECT_DIR/.sandbox-inputs.yaml"


def render(spec: Layout) -> str:
    lines = spec.header("gitlab", [
        f"a protected environment `{layout.ENVIRONMENT}`; the manual `staging` job is the "
        "approval",
        "CI/CD variable STAGING_KUBECONFIG (type File): the staging kubeconfig",
        f"CI/CD variable {layout.INPUTS_SECRET} (masked): base64 of a YAML mapping of "
        "secret inputs (may be unset)",
    ])
    lines += [
        "stages: [contract, runtime-smoke, staging-plan, staging]",
        "",
        "variables:",
        *text.mapping(2, spec.variables()),
        "",
        "default:",
        "  image: python:3.11",
        "",
        ".phasegate:",
        "  before_script:",
        '    - python3 -m pip install --quiet "$PHASEGATE"',
        "  after_script:",
        *text.items(4, spec.evidence()),
        "  artifacts:",
        "    when: always",
        "    paths: [reports/]",
        "    reports:",
        "      junit: reports/junit.xml",
        "",
        ".staging-files:",
        "  # the secret inputs stay base64 in a file for --input @b64: (never on a command line)",
        *text.items(2, [f"printf '%s' \"${{{layout.INPUTS_SECRET}:-}}\" > \"{_SECRETS}\""]),
        "",
        "contract:",
        "  extends: .phasegate",
        "  stage: contract",
        "  script:",
        *text.items(4, [spec.contract()]),
        "",
        "runtime-smoke:",
        "  extends: .phasegate",
        "  stage: runtime-smoke",
        "  # the sandbox builds its binaries from Go modules the first time (then cached)",
        '  image: golang:1.26',
        "  variables:",
        '    XDG_CACHE_HOME: "$CI_PROJECT_DIR/.cache"',
        "  cache:",
        "    key: phasegate-sandbox",
        "    paths: [.cache/phasegate/harness/]",
        "  before_script:",
        "    - apt-get update -qq",
        f"    - apt-get install -y -qq python3-pip jq {layout.SANDBOX_TOOLS}",
        '    - python3 -m pip install --quiet --break-system-packages "$PHASEGATE"',
        "  script:",
        *text.items(4, [*spec.start_sandbox(_SANDBOX_INPUTS), spec.smoke(_SANDBOX_INPUTS)]),
        "  after_script:",
        *text.items(4, spec.evidence()),
        "    - phasegate sandbox down",
        "",
        "staging-plan:",
        "  extends: .phasegate",
        "  stage: staging-plan",
        "  rules:",
        "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        "  script:",
        "    - !reference [.staging-files]",
        "    - apt-get update -qq && apt-get install -y -qq jq",
        *text.items(4, [spec.staging_plan(_KUBECONFIG, _SECRETS),
                        'echo "APPROVED_HASH=$(jq -r .plan_hash plan.json)" > plan.env',
                        'jq -r \'"plan hash: \\(.plan_hash)"\' plan.json']),
        "  artifacts:",
        "    when: always",
        "    paths: [reports/]",
        "    reports:",
        "      junit: reports/junit.xml",
        "      dotenv: plan.env",
        "",
        "staging:",
        "  extends: .phasegate",
        "  stage: staging",
        "  needs: [staging-plan]",
        "  environment:",
        f"    name: {layout.ENVIRONMENT}",
        "  rules:",
        "    # a person starts it after reading the plan's evidence: that is the approval",
        "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        "      when: manual",
        "      allow_failure: false",
        "  script:",
        "    - !reference [.staging-files]",
        *text.items(4, [spec.staging(_KUBECONFIG, _SECRETS)]),
    ]
    return "\n".join(lines) + "\n"
