"""``phasegate ci init``: thin CI triggers. The generated workflow decides nothing itself:
it installs phasegate, passes every input by file (secrets as base64 files), and runs the
gates cheapest first — contract (no cluster), runtime smoke (the sandbox inside the job),
staging plan, then staging with exactly the hash a reviewer approved."""
