"""What both platforms' workflows say: the files they read and the phasegate command of
each level. The platform modules only place these in their YAML."""

from __future__ import annotations

from dataclasses import dataclass

SANDBOX_CONTEXT = "phasegate-local"  # `phasegate sandbox up`'s admin context
ENVIRONMENT = "staging"  # the protected environment whose approval is the review
KUBECONFIG_SECRET = "STAGING_KUBECONFIG_B64"  # base64 of the staging kubeconfig
INPUTS_SECRET = "PHASEGATE_SECRET_INPUTS_B64"  # base64 of a YAML mapping of secret inputs
SANDBOX_TOOLS = "docker-registry skopeo busybox-static"  # what `sandbox up` starts


@dataclass(frozen=True)
class Layout:
    plan: str  # relative to the repository root, where jobs run
    inputs: str | None  # non-secret inputs of every level, reviewed in git
    staging_inputs: str  # the staging target (context, clusterUID) and its values
    install: str  # the pip requirement that installs phasegate
    version: str  # the phasegate that wrote the file

    def _inputs(self, *files: str) -> str:
        """``--input "@FILE"`` for the shared inputs, then ``files`` (shell words, quoted
        here: a path with a space stays one argument)."""
        every = ["@$INPUTS"] if self.inputs else []
        return " ".join(f'--input "{f}"' for f in [*every, *files])

    def variables(self) -> dict[str, str]:
        """The workflow's variables: what a team edits, in one place."""
        found = {"PLAN": self.plan}
        if self.inputs:
            found["INPUTS"] = self.inputs
        found |= {"STAGING_INPUTS": self.staging_inputs, "PHASEGATE": self.install,
                  "PHASEGATE_STORE": ".phasegate/evidence.db", "PHASEGATE_REPORTS": "reports"}
        return found

    def contract(self) -> str:
        # the staging inputs too: the contract level checks the configuration that ships
        return f'phasegate run "$PLAN" --level contract {self._inputs("@$STAGING_INPUTS")}'

    def start_sandbox(self, inputs_file: str) -> list[str]:
        """Shell lines: start the sandbox and write what it is to ``inputs_file`` (its
        context, no cluster pin, its registry) and its kubeconfig to sandbox.json."""
        return [
            "phasegate sandbox up --json > sandbox.json",
            f"printf 'context: {SANDBOX_CONTEXT}\\nclusterUID: \"\"\\nregistry: \"%s\"\\n' "
            f'"$(jq -r .registry sandbox.json)" > "{inputs_file}"',
        ]

    def smoke(self, inputs_file: str) -> str:
        return (f'phasegate run "$PLAN" {self._inputs("@" + inputs_file)} '
                '--kubeconfig "$(jq -r .kubeconfig sandbox.json)" --yes')

    def staging_plan(self, kubeconfig: str, secrets: str) -> str:
        inputs = self._inputs("@$STAGING_INPUTS", "@b64:" + secrets)
        return f'phasegate plan "$PLAN" {inputs} --kubeconfig "{kubeconfig}" --json > plan.json'

    def staging(self, kubeconfig: str, secrets: str) -> str:
        inputs = self._inputs("@$STAGING_INPUTS", "@b64:" + secrets)
        return (f'phasegate run "$PLAN" --level staging --approve "$APPROVED_HASH" {inputs} '
                f'--kubeconfig "{kubeconfig}"')

    @staticmethod
    def evidence() -> list[str]:
        """After every level, pass or fail: the JUnit report and the evidence bundle."""
        return ["phasegate evidence latest --format junit -o reports/junit.xml",
                "phasegate evidence bundle latest -o reports/evidence.tar.gz"]

    def header(self, platform: str, settings: list[str]) -> list[str]:
        return [
            f"# Written by `phasegate ci init --{platform}` (phasegate {self.version}): a thin",
            "# trigger. phasegate decides; every input comes from a file (secrets as base64",
            "# files); the gates run cheapest first, each level only after the one before:",
            "#   contract       no cluster: manifests against Kubernetes' schemas, offline probes",
            "#   runtime-smoke  the whole workflow against the sandbox, inside the job",
            "#   staging-plan   the plan against staging (pinned by target.clusterUID): its",
            "#                  preview and hash, for review",
            f"#   staging        once a reviewer approves the `{ENVIRONMENT}` environment: exactly",
            "#                  the reviewed hash (anything changed since is refused)",
            "# JUnit and the evidence bundle of every level are uploaded. It needs:",
            *[f"#   {line}" for line in settings],
            "# See docs/ci.md.",
        ]
