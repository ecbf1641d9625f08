"""What one Parley process holds while it runs: database, Redis, queues, the event broker.

The API lifespan and ``parley worker`` both start a :class:`Runtime`; embedded mode also starts
the Redis server and runs the job workers inside the API process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import structlog
from saq import Worker

from app.config import Settings
from app.cost.budget import CostBudget
from app.orm import acquire_orm, release_orm
from app.pubsub import Broker
from app.redis import EmbeddedRedis, connect, redis_url
from app.workers import Queues, build_workers, run_workers, stop_workers

log = structlog.get_logger("parley.runtime")


@dataclass
class Runtime:
    settings: Settings
    redis: aioredis.Redis
    queues: Queues
    broker: Broker
    cost_budget: CostBudget | None = None
    workers: list[Worker] = field(default_factory=list)

    def job_context(self, ctx: dict[str, Any]) -> None:
        ctx["runtime"] = self


@contextlib.asynccontextmanager
async def start_runtime(settings: Settings, *, run_workers_here: bool) -> AsyncIterator[Runtime]:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    embedded = EmbeddedRedis(settings.redis_socket_path) if settings.embedded_redis else None
    if embedded is not None:
        await embedded.start()
    url = redis_url(settings)
    await acquire_orm(settings.resolved_database_url)
    redis = connect(url)
    queues = Queues(url)
    await queues.connect()
    broker = Broker(redis)
    runtime = Runtime(settings=settings, redis=redis, queues=queues, broker=broker)
    if settings.cost_analysis:
        runtime.cost_budget = CostBudget(
            redis,
            maximum=settings.cost_budget_maximum,
            restore_rate=settings.cost_budget_restore_rate,
        )
    worker_task: asyncio.Task[None] | None = None
    if run_workers_here:
        runtime.workers = build_workers(
            queues,
            concurrency=settings.worker_concurrency,
            startup=runtime.job_context,
            in_process=True,
        )
        worker_task = asyncio.create_task(run_workers(runtime.workers), name="saq-workers")
    try:
        yield runtime
    finally:
        await stop_workers(runtime.workers)
        if worker_task is not None:
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker_task
        await broker.close()
        await queues.disconnect()
        await redis.aclose()
        await release_orm()
        if embedded is not None:
            await embedded.stop()
        log.info("runtime_stopped")
