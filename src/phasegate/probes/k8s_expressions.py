"""Chainsaw's expressions evaluated against a cluster: ``x_k8s_get``, ``x_k8s_list`` and
``x_k8s_server_version`` read the probe's target. JMESPath evaluates synchronously, so the
evaluation runs in a worker thread and each read is sent back to the probe's event loop;
what was listed is kept so that the gate can watch it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from phasegate import secrets
from phasegate.kube import connections, objects
from phasegate.kube.client import KubeClient
from phasegate.kube.waiting import WatchSpec
from phasegate.probes import expressions, subset
from phasegate.probes.base import ProbeContext
from phasegate.probes.expressions import Scope

READ_TIMEOUT = 30.0
T = TypeVar("T")


class ClusterReader(expressions.Cluster):
    def __init__(self, client: KubeClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self.watch: list[WatchSpec] = []  # what the expressions listed

    def _wait(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # waiting here for the loop would wait forever
            coroutine.close()
            raise expressions.ExpressionError("a cluster read was asked on the event loop")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(READ_TIMEOUT)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Any:
        items = self._wait(self._list(api_version, kind, namespace, name))["items"]
        return items[0] if items else None

    def list(self, api_version: str, kind: str, namespace: str) -> Any:
        return self._wait(self._list(api_version, kind, namespace, None))

    def server_version(self) -> Any:
        return self._wait(self._client.get("/version"))

    async def _list(self, api_version: str, kind: str, namespace: str, name: str | None
                    ) -> dict[str, Any]:
        resource = await self._client.find_kind(kind, api_version or None)
        listing = await objects.list_objects(
            self._client, resource, namespace or None if resource.namespaced else None,
            name=name)
        self.watch.append(listing.watch)
        items = [{"apiVersion": resource.api_version, "kind": resource.kind, **item}
                 for item in listing.items]
        for item in items:  # a Secret read into a binding is masked wherever it goes next
            for value in subset.secret_values(item):
                secrets.register(value)
        return {"apiVersion": f"{resource.api_version}", "kind": f"{resource.kind}List",
                "items": items}


async def evaluated(ctx: ProbeContext, bindings: dict[str, Any], work: Callable[[Scope], T],
                    reads: Any) -> tuple[T, list[WatchSpec]]:
    """``work`` on a scope of ``bindings``, and what it listed. When ``reads`` (the tree
    it evaluates) calls a cluster function, it runs in a thread, the reads on this loop;
    otherwise here, at once (an assert checks as soon as it can)."""
    scope, reader = await scope_for(ctx, bindings)
    if expressions.reads_cluster(reads):
        return await asyncio.to_thread(work, scope), reader.watch
    return work(scope), reader.watch


async def scope_for(ctx: ProbeContext, bindings: dict[str, Any]
                    ) -> tuple[expressions.Scope, ClusterReader]:
    reader = ClusterReader(connections.client_for(ctx), asyncio.get_running_loop())
    return expressions.Scope(dict(bindings), reader), reader
