"""``health --watch`` starts the asks due within one tick together: they wake in the same
turn of the loop, never before their tick."""

from __future__ import annotations

import asyncio
import math

from phasegate.domains import watch


def test_asks_due_within_one_tick_wake_together_and_never_early() -> None:
    async def scenario() -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        base = (math.floor(loop.time() / watch.TICK) + 1) * watch.TICK
        tick = base + watch.TICK
        woke: list[float] = []

        async def due_at(offset: float) -> None:  # due somewhere inside (base, tick]
            await watch._until(math.ceil((base + offset) / watch.TICK) * watch.TICK)
            woke.append(loop.time())

        await asyncio.gather(*(due_at(offset) for offset in (0.01, 0.1, 0.24)))
        return tick, woke

    tick, woke = asyncio.run(scenario())
    assert len(woke) == 3
    assert min(woke) >= tick
    assert max(woke) - min(woke) < 0.005  # together, on the tick


def test_a_tick_already_past_does_not_wait() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await watch._until(started - 1)
        return loop.time() - started

    assert asyncio.run(scenario()) < 0.01
