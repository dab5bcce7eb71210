"""Commands of steps, asserts and collectors as ``command`` probe calls, run as kuttl runs
them: in the test's directory, KUBECONFIG naming the suite's cluster, $NAMESPACE the test's
namespace, kubectl on the PATH; a ``command`` has its $VARS expanded and runs without a
shell, a ``script`` runs with ``sh -c``."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from phasegate.plan import probe_call
from phasegate.plan.probe_call import ProbeCall
from phasegate.suites import model

VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


@dataclass(frozen=True)
class Shell:
    """Where commands run: the environment kuttl gives them."""

    kubeconfig: str
    namespace: str
    path: str

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": self.kubeconfig, "NAMESPACE": self.namespace, "PATH": self.path}


def search_path() -> str:
    """PATH with kubectl's directory first (PHASEGATE_KUBECTL names the one to use)."""
    kubectl = os.environ.get("PHASEGATE_KUBECTL", "")
    current = os.environ.get("PATH", "")
    return f"{Path(kubectl).parent}{os.pathsep}{current}" if kubectl else current


def call(command: model.Command, shell: Shell, timeout: float, label: str,
         *, poll: float | None = None) -> ProbeCall:
    env = {**shell.env(), **dict(command.env)}
    if command.script:
        run: list[str] = ["/bin/sh", "-c", command.script]
    else:
        run = shlex.split(expand(command.command, {**os.environ, **env}))
        if command.namespaced:
            run += ["--namespace", shell.namespace]
    seconds = command.timeout or timeout
    mapping: dict[str, object] = {
        "command": {"run": run, "env": env, "timeout": max(seconds, 1.0),
                    **({"output_in_data": True} if command.keep_output else {})},
        "name": f"{label}: {command.text.strip()}"[:200]}
    if poll is not None:  # asserts re-run their commands as kuttl does, every second
        mapping["interval"] = poll
        mapping["max_interval"] = poll
    return probe_call.build(mapping)


def collector(gather: model.Collector, shell: Shell, timeout: float) -> ProbeCall:
    if gather.command is not None:
        return call(gather.command, shell, timeout, "collect")
    namespace = gather.namespace or shell.namespace
    if gather.events:
        script = f"kubectl get events --namespace {shlex.quote(namespace)}"
    else:
        which = shlex.quote(gather.pod) if gather.pod else f"-l {shlex.quote(gather.selector)}"
        script = (f"kubectl logs --prefix {which} --namespace {shlex.quote(namespace)} "
                  + (f"-c {shlex.quote(gather.container)}" if gather.container
                     else "--all-containers"))
        if gather.tail is not None:
            script += f" --tail {gather.tail}"
    return call(model.Command(script=script), shell, timeout, "collect")


def expand(text: str, env: dict[str, str]) -> str:
    """$VAR and ${VAR} as Go's os.ExpandEnv: an unset variable becomes empty."""
    return VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)
