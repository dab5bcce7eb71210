"""Kustomize overlays as phases: rendered by the engine ``kubectl kustomize`` uses, once per
run, then previewed, hashed, applied, rolled back and searched for images like any
manifests — here over the public podinfo layout (``public("podinfo-kustomize")``)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from phasegate.errors import PlanError
from phasegate.kube import manifests, sources
from phasegate.plan import loader, manifest_images
from phasegate.sandbox import SandboxInfo, connect
from phasegate.workflow import changes
from tests.integration.cli_helpers import phasegate
from tests.integration.k8s_helpers import held_image
from tests.integration.public_material import public
from tests.integration.workflow_helpers import args

PODINFO = public("podinfo-kustomize")
UPSTREAM = "ghcr.io/stefanprodan/podinfo"


def overlay(directory: Path, image: str, *, base: str = "bases/backend",
            extra: str = "") -> Path:
    """An overlay of a public base, its podinfo image pointed at ``image``."""
    directory.mkdir(parents=True, exist_ok=True)
    name, _, tag = image.rpartition(":")
    (directory / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(PODINFO / base, directory)}\n"
        f"images:\n  - name: {UPSTREAM}\n    newName: {name}\n    newTag: '{tag}'\n{extra}")
    return directory


def counting(kubectl: str, tmp_path: Path) -> tuple[str, Path]:
    """A kubectl that writes a line per call, then runs the real one."""
    calls = tmp_path / "calls"
    wrapper = tmp_path / "kubectl-counting"
    wrapper.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\nexec {kubectl} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(wrapper), calls


def test_an_overlay_renders_to_objects_with_their_source_and_images(
        kubectl: str, tmp_path: Path) -> None:
    overlay(tmp_path / "ov", "reg.example:5000/team/podinfo:7.0.0")
    source = sources.Kustomize(kustomize="ov")
    loaded = manifests.load([source], tmp_path)
    assert sorted(m.kind for m in loaded) == ["Deployment", "HorizontalPodAutoscaler",
                                              "Service"]
    assert all(m.source.startswith(f"{tmp_path / 'ov'}#") for m in loaded)
    found = manifest_images.find([source], tmp_path)
    assert [f.ref for f in found] == ["reg.example:5000/team/podinfo:7.0.0"]
    assert found[0].path == "Deployment/backend spec.template.spec.containers[0].image"
    assert found[0].file == tmp_path / "ov"
    # a resume compares one fingerprint per overlay, over its rendered objects
    assert list(changes.fingerprint(loaded, tmp_path)) == ["ov"]


def test_a_public_multi_tier_overlay_renders_whole(kubectl: str) -> None:
    staging = sources.Kustomize(kustomize="overlays/staging")
    loaded = manifests.load([staging], PODINFO)
    assert loaded[0].kind == "Namespace" and loaded[0].name == "staging"  # applied first
    assert {m.obj["metadata"].get("namespace") for m in loaded[1:]} == {"staging"}
    assert {f.ref for f in manifest_images.find([staging], PODINFO)} == {
        f"{UPSTREAM}:6.14.1", "docker.io/redis:8.8.0"}


def test_bad_kustomize_values_are_located_in_the_plan() -> None:
    def error(apply: str) -> PlanError:
        with pytest.raises(PlanError) as raised:
            loader.loads_plan("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: k}\n"
                              f"phases:\n  - name: web\n    apply: {apply}\n", "plan.yaml")
        return raised.value

    wrong_type = error("{kustomize: [a, b]}")
    assert (wrong_type.file, wrong_type.line) == ("plan.yaml", 6), str(wrong_type)
    assert "phases[0].apply" in str(wrong_type)
    unknown = error("{kustomize: ov, namespace: x}")
    assert (unknown.line, unknown.column, unknown.path) == (6, 28, "phases[0].apply.namespace")
    assert "unknown field 'namespace'" in str(unknown)
    empty = error("{kustomize: ''}")
    assert empty.line == 6, str(empty)
    misspelt = error("[a.yaml, {kustomise: ov}]")
    assert misspelt.line == 6 and "did you mean 'kustomize'" in str(misspelt), str(misspelt)
    assert "(and" not in str(misspelt)  # one problem, said once


def test_the_plan_schema_knows_kustomize_phases() -> None:
    import jsonschema

    result = phasegate("schema")
    assert result.returncode == 0, result.stderr
    validator = jsonschema.Draft202012Validator(json.loads(result.stdout))
    plan = {"apiVersion": "phasegate/v1", "kind": "Plan", "metadata": {"name": "k"},
            "phases": [{"name": "web", "apply": {"kustomize": "overlays/staging"}},
                       {"name": "api", "apply": ["a.yaml", {"kustomize": "ov"}]}]}
    assert not list(validator.iter_errors(plan))
    plan["phases"][0]["apply"] = {"kustomize": "ov", "namespace": "x"}
    assert list(validator.iter_errors(plan))


def test_rendering_failures_say_what_and_where(kubectl: str, tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    (tmp_path / "plain").mkdir()
    plan = tmp_path / "plan.yaml"

    def check(apply: str, env: dict[str, str] | None = None) -> str:
        plan.write_text("apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: k}\n"
                        f"phases:\n  - name: web\n    apply: {apply}\n")
        result = phasegate("run", str(plan), "--level", "contract", "--json", "--store",
                           str(tmp_path / "e.db"), "--reports", str(tmp_path / "r"), env=env)
        assert result.returncode == 2, result.stdout + result.stderr
        return str(json.loads(result.stdout)["error"]["message"])

    said = check("{kustomize: broken}")
    assert f"{tmp_path / 'broken'}: kustomize cannot render this overlay" in said
    assert "missing.yaml" in said  # kustomize's own words
    assert "no kustomization.yaml" in check("{kustomize: plain}")
    assert "overlay not found" in check("{kustomize: nowhere}")
    no_binary = check("{kustomize: broken}", env={"PHASEGATE_KUBECTL": "",
                                                  "PATH": str(tmp_path / "empty")})
    assert "PHASEGATE_KUBECTL" in no_binary and "harness/kubectl.sh" in no_binary


@pytest.mark.cluster
def test_an_overlay_runs_through_every_stage_rendered_once(
        cluster: SandboxInfo, kubectl: str, tmp_path: Path, fresh_namespace: str) -> None:
    image = held_image(cluster)
    overlay(tmp_path / "overlays" / "test", image)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: podinfo}\n"
        "target: {context: phasegate-local, namespace: \"${input.namespace}\"}\n"
        "phases:\n"
        "  - name: namespace\n    apply: ns.yaml\n"
        "  - name: backend\n    apply: {kustomize: overlays/test}\n"
        "    gate: [{k8s.rollout: {kind: Deployment, name: backend}}]\n    timeout: 2m\n")
    (tmp_path / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: \"${input.namespace}\"}\n")
    wrapper, calls = counting(kubectl, tmp_path)
    result = phasegate("run", str(plan), "--yes", "--json",
                       *args(cluster, tmp_path, fresh_namespace),
                       env={"PHASEGATE_KUBECTL": wrapper}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(calls.read_text().splitlines()) == 1  # R, P, I and V shared one rendering
    document = json.loads(result.stdout)
    evidence = Path(document["files"]["evidence"]).read_text()
    assert image in evidence and UPSTREAM not in evidence  # R checked the overridden image
    with connect(cluster) as api:
        live = api.get(f"/apis/apps/v1/namespaces/{fresh_namespace}/deployments/backend")
        assert live is not None
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == image

    # the plan hash covers the rendered output: another override is another plan
    def hash_now() -> str:
        shown = phasegate("plan", str(plan), "--json", *args(cluster, tmp_path,
                                                             fresh_namespace))
        assert shown.returncode == 0, shown.stdout + shown.stderr
        return str(json.loads(shown.stdout)["preview"]["hash"])

    before = hash_now()
    assert hash_now() == before
    overlay(tmp_path / "overlays" / "test", image,
            extra="commonAnnotations: {team: payments}\n")
    after = hash_now()
    assert after != before

    # a failing gate rolls the overlay's objects back to what they were
    plan.write_text(plan.read_text().replace("name: backend}}]", "name: backend}},"
                                             " {k8s.exists: {kind: ConfigMap, name: nope}}]")
                    .replace("timeout: 2m", "timeout: 2s"))
    failed = phasegate("apply", str(plan), "--yes", "--json",
                       *args(cluster, tmp_path, fresh_namespace), timeout=300)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "rolled back" in json.loads(failed.stdout)["detail"]
    with connect(cluster) as api:
        live = api.get(f"/apis/apps/v1/namespaces/{fresh_namespace}/deployments/backend")
        assert live is not None
        assert "team" not in (live["metadata"].get("annotations") or {})
