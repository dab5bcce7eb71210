"""The image puller's work: watch pods, decide their pulls, mark them (see pulls.py).

Started as a process by image_puller.py. Images are looked up as soon as a pod is seen,
before it is scheduled, so the verdict is usually ready by the time it is bound. A
failed pull that may succeed later (the registry said "not found") is asked again with a
kubelet's back-off, 10 s doubling to 5 min; a pod whose image turns up then runs.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from phasegate.sandbox import pulls

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
FIRST_RETRY, MAX_RETRY = 10.0, 300.0
WATCH_SECONDS = 300


class Puller:
    def __init__(self, api: httpx.AsyncClient, registry: pulls.Registry) -> None:
        self.api = api
        self.registry = registry
        self.cache = pulls.Cache()
        self._asking: dict[str, asyncio.Task[pulls.Pull]] = {}
        self._marking: set[str] = set()  # pod uids whose verdict is being written
        self._retries: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # keeps running tasks referenced

    async def run(self) -> None:
        """List, then watch from there; start again after any break (the API server may
        not answer yet, a watch expires)."""
        quiet = False  # one line per run of failures, not one per 0.1 s
        while True:
            try:
                await self._watch(await self._list())
                quiet = False
            except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
                if not quiet:
                    log(f"watch interrupted ({type(exc).__name__}: {exc}); listing again")
                quiet = True
                await asyncio.sleep(0.1)

    async def _list(self) -> str:
        resp = await self.api.get("/api/v1/pods")
        resp.raise_for_status()
        body = resp.json()
        for pod in body.get("items") or []:
            self._consider(pod)
        return str(body["metadata"]["resourceVersion"])

    async def _watch(self, version: str) -> None:
        params = {"watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(WATCH_SECONDS)}
        timeout = httpx.Timeout(10.0, read=WATCH_SECONDS + 30)
        async with self.api.stream("GET", "/api/v1/pods", params=params, timeout=timeout) as resp:
            resp.raise_for_status()
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, pod = event.get("type"), event.get("object") or {}
                if kind == "ERROR":  # e.g. 410 Gone: the version is too old, list again
                    return
                if kind in ("ADDED", "MODIFIED"):
                    self._consider(pod)
                elif kind == "DELETED":
                    retry = self._retries.pop(pod["metadata"]["uid"], None)
                    if retry is not None:
                        retry.cancel()

    def _consider(self, pod: pulls.Json) -> None:
        if pulls.needs_verdict(pod):
            uid = pod["metadata"]["uid"]
            if uid not in self._marking:
                self._marking.add(uid)
                self._spawn(self._mark(pod))
        elif not (pod.get("spec") or {}).get("nodeName"):
            for container in pulls.containers(pod):  # not bound yet: look up meanwhile
                self._ask(container.get("image", ""))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _ask(self, image_ref: str) -> asyncio.Future[pulls.Pull]:
        """One lookup per image at a time; cached verdicts are answered at once."""
        cached = self.cache.get(image_ref)
        if cached is not None:
            done: asyncio.Future[pulls.Pull] = asyncio.get_running_loop().create_future()
            done.set_result(cached)
            return done
        asking = self._asking.get(image_ref)
        if asking is None:
            asking = asyncio.ensure_future(self._lookup(image_ref))
            self._asking[image_ref] = asking
            asking.add_done_callback(lambda _: self._asking.pop(image_ref, None))
        return asking

    async def _lookup(self, image_ref: str) -> pulls.Pull:
        try:
            pull = await pulls.ask(image_ref, self.registry)
        except Exception as exc:  # any failure to find out is the pod's answer
            pull = pulls.Pull(False, pulls.ERR_IMAGE_PULL, f"{type(exc).__name__}: {exc}",
                        retry=True, keep=0.0)
        self.cache.put(image_ref, pull)
        return pull

    async def _verdicts(self, pod: pulls.Json) -> dict[str, pulls.Pull]:
        found = {c["name"]: await self._ask(c.get("image", "")) for c in pulls.containers(pod)}
        if ((pod["metadata"].get("annotations") or {}).get(pulls.STAGED)) == "image-pull":
            for container in (pod.get("spec") or {}).get("containers") or []:
                found[container["name"]] = pulls.staged(container.get("image", ""))
        return found

    async def _mark(self, pod: pulls.Json, attempt: int = 0) -> None:
        meta = pod["metadata"]
        try:
            found = await self._verdicts(pod)
            failed = {name: p for name, p in found.items() if not p.ok}
            if attempt and failed:
                self._retry_later(pod, attempt)  # still failing: nothing to write
                return
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
            resp = await self.api.patch(path, json=pulls.marks(pod, found), headers=MERGE_PATCH)
            if resp.status_code in (404, 409, 422):  # gone, or another pod by now
                return
            resp.raise_for_status()
            log(_summary(pod, found))
            if failed:
                await self._report(pod, failed)
                if any(p.retry for p in failed.values()):
                    self._retry_later(pod, attempt)
        except (httpx.HTTPError, OSError) as exc:
            log(f"pod {meta.get('namespace')}/{meta.get('name')}: not marked ({exc})")
            await asyncio.sleep(0.2)
            self._marking.discard(meta["uid"])  # the next event for it tries again
        else:
            if not attempt:
                self._marking.discard(meta["uid"])

    def _retry_later(self, pod: pulls.Json, attempt: int) -> None:
        uid = pod["metadata"]["uid"]
        wait = min(FIRST_RETRY * 2**attempt, MAX_RETRY)

        async def again() -> None:
            await asyncio.sleep(wait)
            self._retries.pop(uid, None)
            meta = pod["metadata"]
            resp = await self.api.get(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")
            if resp.status_code != 200:
                return
            live = resp.json()
            annotations = live["metadata"].get("annotations") or {}
            if live["metadata"]["uid"] == uid and annotations.get(pulls.VERDICT) == pulls.FAILED:
                await self._mark(live, attempt + 1)

        task = asyncio.ensure_future(again())
        self._retries[uid] = task

    async def _report(self, pod: pulls.Json, failed: dict[str, pulls.Pull]) -> None:
        """A kubelet's Warning event per failed pull, as `kubectl describe` shows it."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        images = {c["name"]: c.get("image", "") for c in pulls.containers(pod)}
        init = {c["name"] for c in spec.get("initContainers") or []}
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        for name, pull in failed.items():
            field = "initContainers" if name in init else "containers"
            message = pull.why
            if pull.reason == pulls.ERR_IMAGE_PULL:
                message = f'Failed to pull image "{images[name]}": {pull.why}'
            event = {
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                    "namespace": meta["namespace"], "uid": meta["uid"],
                    "fieldPath": f"spec.{field}{{{name}}}",
                },
                "reason": "Failed", "message": message, "type": "Warning", "count": 1,
                "firstTimestamp": now, "lastTimestamp": now,
                "source": {"component": "kubelet", "host": spec.get("nodeName", "")},
                "reportingComponent": "kubelet", "reportingInstance": spec.get("nodeName", ""),
            }
            await self.api.post(f"/api/v1/namespaces/{meta['namespace']}/events", json=event)


def _summary(pod: pulls.Json, found: dict[str, pulls.Pull]) -> str:
    meta = pod["metadata"]
    failed = [f"{name}: {p.mark}" for name, p in found.items() if not p.ok]
    verdict = f"failed ({'; '.join(failed)})" if failed else f"pulled ({len(found)} image(s))"
    return f"pod {meta['namespace']}/{meta['name']}: {verdict}"


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp} {message}", flush=True)


def client(url: str, ca: Path, cert: Path, key: Path) -> httpx.AsyncClient:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=10)
    return httpx.AsyncClient(base_url=url, verify=ctx, timeout=10.0, limits=limits)


async def serve(url: str, ca: Path, cert: Path, key: Path, registry: pulls.Registry) -> None:
    async with client(url, ca, cert, key) as api:
        log(f"watching pods on {url}; registry {registry.host or '(none)'}")
        await Puller(api, registry).run()
