"""The sandbox image puller's verdicts that need no registry, and the marks it writes."""

from __future__ import annotations

import asyncio

import pytest

from phasegate.probes.oci import reference
from phasegate.sandbox import pulls

OWN = pulls.Registry("127.0.0.1:5123")


@pytest.mark.parametrize(
    ("image", "resolved", "host"),
    [
        ("nginx:1.25", "docker.io/library/nginx:1.25", "registry-1.docker.io"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", "registry.k8s.io"),
        ("127.0.0.1:9/shop/api:1.4.2", "127.0.0.1:9/shop/api:1.4.2", "127.0.0.1:9"),
    ],
)
def test_any_other_registry_is_unreachable_like_a_kubelet_says(
    image: str, resolved: str, host: str
) -> None:
    pull = asyncio.run(pulls.ask(image, OWN))
    assert (pull.ok, pull.reason, pull.retry) == (False, "ErrImagePull", False)
    assert pull.why == (
        f'failed to resolve reference "{resolved}": {host} is not reachable from the '
        "phasegate sandbox (it reaches only its own registry, 127.0.0.1:5123)"
    )


def test_without_a_registry_every_image_is_unreachable() -> None:
    pull = asyncio.run(pulls.ask("127.0.0.1:5123/shop/api:1.4.2", pulls.Registry(None)))
    assert not pull.ok
    assert pull.why.endswith("(it was started without a registry (--no-registry))")


def test_the_own_registry_is_reached_by_localhost_too() -> None:
    assert OWN.reaches(reference.parse("localhost:5123/shop/api:1.4.2"))
    assert not OWN.reaches(reference.parse("localhost:5124/shop/api:1.4.2"))


def test_an_unparsable_name_is_invalid_image_name() -> None:
    pull = asyncio.run(pulls.ask("Shop/API:1", OWN))
    assert (pull.ok, pull.reason) == (False, "InvalidImageName")
    assert pull.why.startswith('Failed to apply default image tag "Shop/API:1": couldn\'t parse')


def test_marks_record_each_failed_container_and_clear_old_ones() -> None:
    pod = {"metadata": {"uid": "u-1", "annotations": {
        "pull.sandbox.phasegate.dev/old": "ErrImagePull: gone", "keep": "me"}}}
    failed = pulls.Pull(False, "ErrImagePull", "nope")
    patch = pulls.marks(pod, {"init": pulls.Pull(True), "app": failed})
    assert patch == {"metadata": {"uid": "u-1", "annotations": {
        "pull.sandbox.phasegate.dev/old": None,
        "sandbox.phasegate.dev/images": "failed",
        "pull.sandbox.phasegate.dev/app": "ErrImagePull: nope",
    }}}
    pulled = pulls.marks(pod, {"app": pulls.Pull(True)})["metadata"]["annotations"]
    assert pulled == {"pull.sandbox.phasegate.dev/old": None,
                      "sandbox.phasegate.dev/images": "pulled"}


def test_only_bound_live_unmarked_pods_need_a_verdict() -> None:
    bound = {"metadata": {}, "spec": {"nodeName": "kwok-node-0"}}
    assert pulls.needs_verdict(bound)
    assert not pulls.needs_verdict({"metadata": {}, "spec": {}})
    assert not pulls.needs_verdict(
        {"metadata": {"deletionTimestamp": "now"}, "spec": {"nodeName": "n"}})
    assert not pulls.needs_verdict(
        {"metadata": {"annotations": {pulls.VERDICT: "pulled"}}, "spec": {"nodeName": "n"}})


def test_pods_on_a_real_node_are_left_to_its_kubelet() -> None:
    # containerd pulls them for real; a verdict would only be noise on the pod
    assert not pulls.needs_verdict({"metadata": {}, "spec": {"nodeName": "real-node-0"}})


def test_cache_keeps_each_verdict_as_long_as_it_says() -> None:
    cache = pulls.Cache()
    cache.put("a", pulls.Pull(True))
    cache.put("b", pulls.Pull(False, "ErrImagePull", "x", keep=0.0))
    cache.put("c", pulls.Pull(False, "ErrImagePull", "y", keep=60.0))
    assert cache.get("a") == pulls.Pull(True)
    assert cache.get("b") is None
    assert cache.get("c") is not None
