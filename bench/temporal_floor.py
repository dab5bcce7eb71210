"""The floor under ``bench/temporal_overhead.py``'s concurrency figures: a trivial workflow
that calls a no-op activity (async, as phasegate's are) as many times as a
phasegate run calls its activities (with the same timeouts and retry policy and a payload
of the run's size), served by a worker
with phasegate's worker settings (``phasegate.temporal.worker.settings``) and no phasegate
work. What N of these at once cost is Temporal and the machine; what a phasegate run costs
over that is phasegate's.

Run as the floor worker: python bench/temporal_floor.py --address HOST:PORT --task-queue Q
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

WORKFLOW = "phasegate-bench-floor"


@activity.defn(name="floor_noop")
async def noop(payload: dict[str, Any]) -> dict[str, Any]:
    return {"said": [], "key": payload.get("key", "")}


@workflow.defn(name=WORKFLOW)
class Floor:
    @workflow.run
    async def run(self, given: dict[str, Any]) -> int:
        count, payload = int(given["activities"]), dict(given["payload"])
        for step in range(count):
            await workflow.execute_activity(
                "floor_noop", {**payload, "key": str(step)},
                start_to_close_timeout=timedelta(days=1),
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=3,
                                         initial_interval=timedelta(seconds=1)))
        return count


async def serve(address: str, task_queue: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from phasegate.temporal import worker as phasegate_worker

    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[Floor], activities=[noop],
                      **phasegate_worker.settings()):
        print("floor worker serving", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue))


if __name__ == "__main__":
    main()
