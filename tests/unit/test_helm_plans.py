"""Helm phases in a plan (located errors) and the pure parts of the helm runner: the set
values file, the pending-release rule and the command that unlocks one, finding helm."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.errors import ActionError, PlanError
from phasegate.kube import helm
from phasegate.plan.loader import loads_plan

HEADER = "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: shop}\nphases:\n"


def error_of(text: str) -> PlanError:
    with pytest.raises(PlanError) as caught:
        loads_plan(HEADER + text, filename="shop.yaml")
    return caught.value


def test_a_helm_phase_loads() -> None:
    plan = loads_plan(HEADER + "  - name: web\n    helm:\n      release: web\n"
                      "      path: charts/podinfo\n      values: [prod.yaml]\n"
                      "      set: {image.tag: '1.2', replicaCount: 2}\n")
    spec = plan.phases[0].helm
    assert spec is not None
    assert (spec.release, spec.path, spec.values) == ("web", "charts/podinfo", ["prod.yaml"])
    assert spec.set == {"image.tag": "1.2", "replicaCount": 2}


def test_a_chart_from_two_places_is_located() -> None:
    error = error_of("  - name: web\n    helm:\n      release: web\n      chart: podinfo\n"
                     "      repo: https://charts.example\n      path: charts/podinfo\n")
    assert (error.file, error.line, error.path) == ("shop.yaml", 7, "phases[0].helm")
    assert "exactly one of repo, oci or path (got repo and path)" in str(error)


def test_a_repo_chart_needs_its_name() -> None:
    error = error_of("  - name: web\n    helm: {release: web, repo: 'https://charts.example'}\n")
    assert error.path == "phases[0].helm" and error.line == 6
    assert "needs its name in 'chart'" in str(error)


def test_a_misspelt_helm_field_is_suggested() -> None:
    error = error_of("  - name: web\n    helm: {release: web, path: c, valuse: [a.yaml]}\n")
    assert error.path == "phases[0].helm.valuse" and error.suggestion == "values"


def test_a_phase_is_manifests_or_a_release_not_both() -> None:
    error = error_of("  - name: web\n    apply: web.yaml\n    helm: {release: web, path: c}\n")
    assert error.path == "phases[0]" and "split 'apply' and 'helm'" in str(error)


def test_set_keys_are_dotted_paths_with_typed_values() -> None:
    assert helm.nested({"image.tag": "1.2", "image.pullPolicy": "Always", "replicas": 2}) == {
        "image": {"tag": "1.2", "pullPolicy": "Always"}, "replicas": 2}


def test_set_keys_index_lists_and_escape_dots_as_helm_set_does() -> None:
    assert helm.nested({"ingress.hosts[0].host": "shop.example", "ingress.hosts[0].paths[1]": "/",
                        r"nodeSelector.kubernetes\.io/os": "linux", "args[2]": "-v"}) == {
        "ingress": {"hosts": [{"host": "shop.example", "paths": [None, "/"]}]},
        "nodeSelector": {"kubernetes.io/os": "linux"}, "args": [None, None, "-v"]}


@pytest.mark.parametrize("key", ["image..tag", "hosts[x].name", "hosts[-1]", "hosts[0",
                                 "hosts]0[", ".tag", "tag.", "hosts[100000]"])
def test_a_set_key_helm_would_misread_is_a_located_plan_error(key: str) -> None:
    error = error_of(f"  - name: web\n    helm: {{release: web, path: c, set: {{'{key}': 1}}}}\n")
    assert error.path is not None and error.path.startswith("phases[0].helm"), error.path
    assert key in str(error) and error.line == 6, str(error)


def _history(*statuses: str) -> list[helm.Revision]:
    return [helm.Revision(n, status, "podinfo-6.14.1", "2026-12-02", "")
            for n, status in enumerate(statuses, start=1)]


RELEASE = helm.Release("web", "shop", helm.Chart("charts/podinfo"))


def test_a_pending_upgrade_is_unlocked_by_rolling_back_to_the_deployed_one() -> None:
    history = _history("superseded", "deployed", "pending-upgrade")
    assert helm.pending(history) == history[-1]
    assert helm.unlock_command(RELEASE, history) == "helm rollback web 2 --namespace shop"


def test_a_pending_install_is_unlocked_by_uninstalling() -> None:
    history = _history("pending-install")
    assert helm.unlock_command(RELEASE, history) == "helm uninstall web --namespace shop"


def test_a_deployed_or_failed_release_is_not_pending() -> None:
    assert helm.pending(_history("deployed", "failed")) is None
    assert helm.pending([]) is None


def test_a_missing_helm_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.delenv(helm.ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ActionError) as caught:
        helm.find_binary()
    assert "harness/helm.sh" in str(caught.value) and helm.ENV in str(caught.value)
    assert caught.value.exit_code == 2
    monkeypatch.setenv(helm.ENV, str(tmp_path / "nothing"))
    with pytest.raises(ActionError, match="is not an executable file"):
        helm.find_binary()
