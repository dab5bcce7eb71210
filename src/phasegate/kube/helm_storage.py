"""A release's revisions read from where helm keeps them (its default storage: one Secret a
revision, labelled owner=helm, name, status, version), with the API client phasegate
already holds: one list instead of a helm process. Only the labels are read; the Secrets'
content (the release, values included) never is."""

from __future__ import annotations

import os

from phasegate.kube import helm
from phasegate.kube.client import KubeClient


def readable() -> bool:
    """helm stores releases in Secrets (its default) for this process's helm."""
    return os.environ.get("HELM_DRIVER", "secret") in ("", "secret", "secrets")


async def revisions(client: KubeClient, release: helm.Release) -> list[helm.Revision]:
    """The release's revisions, oldest first, status and number alone (chart, time and
    description are in the Secret's content: ``helm history`` says those)."""
    listing = await client.get(f"/api/v1/namespaces/{release.namespace}/secrets",
                               params={"labelSelector": f"owner=helm,name={release.name}"})
    found = []
    for item in (listing or {}).get("items", []):
        labels = (item.get("metadata") or {}).get("labels") or {}
        if str(labels.get("version", "")).isdigit():
            found.append(helm.Revision(int(labels["version"]), str(labels.get("status", "")),
                                       "", str(item["metadata"].get("creationTimestamp", "")),
                                       ""))
    return sorted(found, key=lambda r: r.revision)
