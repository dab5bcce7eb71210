"""target.imageMirrors: prefixes, longest match, Docker Hub's names; and the plan's images
rewritten to where the cluster pulls them (pure rules, no registry needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.errors import PlanError
from phasegate.plan.loader import loads_plan
from phasegate.probes.oci import mirrors, reference
from phasegate.workflow import check

MIRRORS = mirrors.normalised({
    "docker.io": "registry.internal:5000/dockerhub",
    "docker.io/bitnami": "registry.internal:5000/bitnami",
    "quay.io/prometheus": "registry.internal:5000/prom",
    "ghcr.io/acme/api": "mirror.acme:443/api-copy",
})


@pytest.mark.parametrize(
    ("written", "pulled"),
    [
        ("nginx", "registry.internal:5000/dockerhub/library/nginx:latest"),
        ("nginx:1.27", "registry.internal:5000/dockerhub/library/nginx:1.27"),
        ("docker.io/library/nginx:1.27", "registry.internal:5000/dockerhub/library/nginx:1.27"),
        ("index.docker.io/library/nginx:1.27",
         "registry.internal:5000/dockerhub/library/nginx:1.27"),
        ("bitnami/redis:7", "registry.internal:5000/bitnami/redis:7"),  # longest prefix wins
        ("bitnamix/redis:7", "registry.internal:5000/dockerhub/bitnamix/redis:7"),
        ("quay.io/prometheus/node-exporter:v1",
         "registry.internal:5000/prom/node-exporter:v1"),
        ("ghcr.io/acme/api:2", "mirror.acme:443/api-copy:2"),  # a whole repository
        ("ghcr.io/acme/api@sha256:" + "a" * 64, "mirror.acme:443/api-copy@sha256:" + "a" * 64),
    ],
)
def test_the_longest_matching_prefix_rewrites_the_reference(written: str, pulled: str) -> None:
    found = mirrors.resolve(reference.parse(written), MIRRORS)
    assert found is not None
    assert str(found.mirror) == pulled
    assert found.upstream == reference.parse(written)


@pytest.mark.parametrize("written", ["quay.io/prometheusx/a:1", "quay.io/other:1",
                                     "ghcr.io/acme/api-two:1", "127.0.0.1:5000/x:1"])
def test_a_prefix_matches_only_at_a_path_boundary(written: str) -> None:
    assert mirrors.resolve(reference.parse(written), MIRRORS) is None


def test_keys_are_normalised_and_two_spellings_of_one_are_refused() -> None:
    written = {"https://index.docker.io/": "m.io/hub/"}
    assert mirrors.normalised(written) == {"docker.io": "m.io/hub"}
    with pytest.raises(reference.InvalidReference, match="same prefix"):
        mirrors.normalised({"docker.io": "a.io/x", "index.docker.io": "b.io/y"})


@pytest.mark.parametrize(("key", "value", "said"), [
    ("bitnami", "m.io/x", "does not start with a registry host"),
    ("docker.io/library/nginx:1.27", "m.io/x", "no tag or digest"),
    ("docker.io", "dockerhub", "does not start with a registry host"),
    ("docker.io", "m.io/Upper", "not a repository path component"),
])
def test_bad_entries_say_what_a_prefix_or_mirror_looks_like(key: str, value: str,
                                                            said: str) -> None:
    with pytest.raises(reference.InvalidReference, match=said):
        mirrors.normalised({key: value})


HEADER = "apiVersion: phasegate/v1\nkind: Plan\nmetadata: {name: shop}\n"


def test_a_bad_mirror_in_a_plan_is_located() -> None:
    with pytest.raises(PlanError) as caught:
        loads_plan(HEADER + "target:\n  imageMirrors:\n    bitnami: m.io/x\n",
                   filename="shop.yaml")
    message = str(caught.value)
    assert "shop.yaml:" in message and "target.imageMirrors" in message
    assert "does not start with a registry host" in message


def test_stage_r_asks_the_mirror_and_names_the_upstream(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - {name: a, image: nginx:1.27}\n    - {name: b, image: docker.io/library/nginx:1.27}\n"
        "    - {name: c, image: 127.0.0.1:5000/shop/api:1}\n")
    (tmp_path / "plan.yaml").write_text(
        HEADER + "target:\n  imageMirrors: {docker.io: 'registry.internal:5000/dockerhub'}\n"
        "assumptions:\n  images: [bitnami/redis:7]\nphases:\n  - {name: app, apply: app.yaml}\n")
    from phasegate.plan.loader import load_plan

    plan = load_plan(tmp_path / "plan.yaml")
    calls = [c for c in check.assumption_calls(plan) if c.kind == "image"]
    assert [c.params.model_dump(exclude_defaults=True) for c in calls] == [
        {"ref": "registry.internal:5000/dockerhub/bitnami/redis:7",
         "upstream": "docker.io/bitnami/redis:7"},
        {"ref": "registry.internal:5000/dockerhub/library/nginx:1.27",
         "upstream": "docker.io/library/nginx:1.27"},
        {"ref": "127.0.0.1:5000/shop/api:1"},
    ]
    assert calls[1].name == ("image docker.io/library/nginx:1.27 via mirror "
                             "registry.internal:5000/dockerhub/library/nginx:1.27")
