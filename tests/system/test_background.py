"""The background loop beside a block of work ends with the block, even when a step swallows
the cancellation (as redis-py once did under a campaign job, which then hung for good)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from app.platform.background import every


async def test_a_loop_whose_step_swallows_cancellation_still_ends_with_its_block() -> None:
    steps = 0
    in_step = asyncio.Event()

    async def stubborn() -> None:
        nonlocal steps
        steps += 1
        in_step.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.2)

    async def work() -> None:
        async with every(0.01, stubborn):
            await in_step.wait()  # leave the block while a step is running

    await asyncio.wait_for(work(), timeout=5)
    ran = steps
    await asyncio.sleep(0.1)  # the point: no step runs during the time after it
    assert steps == ran


async def test_steps_run_every_interval_while_the_block_runs() -> None:
    steps = 0

    async def count() -> None:
        nonlocal steps
        steps += 1

    started = time.monotonic()
    async with every(0.02, count):
        await asyncio.sleep(0.3)  # the point: a block that lasts a while
    elapsed = time.monotonic() - started
    assert 3 <= steps <= elapsed / 0.02 + 1  # a step after each pause, never a busy loop
