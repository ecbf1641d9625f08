"""A stopping worker: its upkeep ends at once, a running job gets its grace period to finish."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from saq import Queue

from app.platform.queues import stop_workers
from app.workers.process import STOP_GRACE_SECONDS, owned_worker
from tests.support.messaging import eventually
from tests.support.redis_process import RedisProcess

JOB_SECONDS = 1.5
FINISHED: list[str] = []


async def slow(ctx: Any, *, name: str) -> str:
    await asyncio.sleep(JOB_SECONDS)
    FINISHED.append(name)
    return name


async def _started(queue: Queue, key: str) -> bool:
    job = await queue.job(key)
    return job is not None and job.status == "active"


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_job_running_when_its_worker_stops_finishes_and_nothing_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, concurrency: int
) -> None:
    caplog.set_level(logging.INFO)
    redis_server = RedisProcess(tmp_path / "redis")
    await redis_server.start()
    queue = Queue.from_url(redis_server.url)
    FINISHED.clear()
    worker = owned_worker(
        queue, functions=[slow], cron_jobs=[], concurrency=concurrency, startup=lambda ctx: None
    )
    running = asyncio.create_task(worker.start())
    try:
        # SAQ sweeps its active jobs as it starts, and a job caught between its dequeue and
        # being marked active would be swept as lost: enqueue once that first sweep is done.
        await asyncio.sleep(0.5)
        job = await queue.enqueue("slow", key="slow-1", name="first")
        assert job is not None
        await eventually(lambda: _started(queue, "slow-1"), within=10)

        began = time.monotonic()
        await stop_workers([worker])
        took = time.monotonic() - began
        await asyncio.wait_for(running, 5)
        done = await queue.job("slow-1")
    finally:
        running.cancel()
        await queue.disconnect()
        await redis_server.stop()

    assert FINISHED == ["first"]
    assert done is not None and done.status == "complete" and done.result == "first"
    # Waited for the job, not for the upkeep loops (a sweep sleeps 30 s) or the grace period.
    assert took < STOP_GRACE_SECONDS, took
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ]
