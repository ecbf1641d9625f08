"""A background loop beside a block of work, that stops when the block ends.

Stopping it by ``Task.cancel()`` alone is not enough: a library may catch the
``CancelledError`` deep inside a call (redis-py has done so), the loop then runs on, and
whoever awaits it waits forever (a campaign job once hung like that, stamping its liveness
all the while, so the watchdog never rescued it). The loop therefore also watches an event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable


@contextlib.asynccontextmanager
async def every(seconds: float, step: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    """Run ``step`` every ``seconds`` (after each pause) while the block runs."""
    stop = asyncio.Event()

    async def loop() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            if stop.is_set():
                return
            await step()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        task.cancel()  # cuts a slow step short; the event ends the loop if this is swallowed
        with contextlib.suppress(asyncio.CancelledError):
            await task
