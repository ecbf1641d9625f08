"""What one Parley process holds while it runs: database, Redis, queues, the event broker.

The API lifespan and ``parley worker`` both start a :class:`Runtime`; embedded mode also starts
the Redis server, and the API process passes its job workers in to run beside it (the platform
knows no job: ``app.workers`` builds them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

import redis.asyncio as aioredis
import structlog
from saq import Worker
from saq.job import Job as SaqJob

from app.platform.buckets import CostBudget
from app.platform.cache import HotCache, activate, deactivate
from app.platform.config import Settings
from app.platform.orm import acquire_orm, release_orm
from app.platform.pubsub import Broker
from app.platform.queues import Queues, stop_workers
from app.platform.redis import EmbeddedRedis, connect, redis_url
from app.whatsapp.http_pool import close_shared_clients

log = structlog.get_logger("parley.runtime")


class JobContext(TypedDict, total=False):
    """What SAQ hands every job: the process's runtime (set at worker start-up) and the job."""

    runtime: Runtime
    job: SaqJob
    worker: Any


@dataclass
class Runtime:
    settings: Settings
    redis: aioredis.Redis
    queues: Queues
    broker: Broker
    cache: HotCache
    cost_budget: CostBudget | None = None
    workers: list[Worker] = field(default_factory=list)

    def job_context(self, ctx: JobContext) -> None:
        ctx["runtime"] = self


WorkerFactory = Callable[[Queues, Callable[[JobContext], None]], list[Worker]]
"""Builds the job workers a process runs beside its runtime, given the queues and the
start-up hook that puts the runtime in each job's context."""


@contextlib.asynccontextmanager
async def start_runtime(
    settings: Settings, *, workers: WorkerFactory | None = None
) -> AsyncIterator[Runtime]:
    """Start what a process needs; on exit stop it in reverse order, every step even when
    an earlier one fails (Redis may be gone by then)."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        if settings.embedded_redis:
            embedded = EmbeddedRedis(settings.redis_socket_path)
            await embedded.start()
            stack.push_async_callback(_logged, "embedded_redis", embedded.stop)
        url = redis_url(settings)
        await acquire_orm(settings.resolved_database_url)
        stack.push_async_callback(_logged, "orm", release_orm)
        # Closed after the workers stop (the stack unwinds in reverse), so no send loses its pool.
        stack.push_async_callback(_logged, "graph_api_clients", close_shared_clients)
        redis = connect(url)
        stack.push_async_callback(_logged, "redis", redis.aclose)
        queues = Queues(url)
        await queues.connect()
        stack.push_async_callback(_logged, "queues", queues.disconnect)
        broker = Broker(redis, queue_size=settings.pubsub_queue_events)
        stack.push_async_callback(_logged, "broker", broker.close)
        cache = HotCache(redis, ttl_seconds=settings.cache_ttl_seconds)
        activate(cache)
        stack.callback(deactivate, cache)
        runtime = Runtime(settings=settings, redis=redis, queues=queues, broker=broker, cache=cache)
        if settings.cost_analysis:
            runtime.cost_budget = CostBudget(
                redis,
                maximum=settings.cost_budget_maximum,
                restore_rate=settings.cost_budget_restore_rate,
            )
        if workers is not None:
            runtime.workers = workers(queues, runtime.job_context)
            worker_task = asyncio.create_task(_run(runtime.workers), name="saq-workers")
            stack.push_async_callback(_logged, "workers", _stop_worker_task, runtime, worker_task)
        yield runtime
    log.info("runtime_stopped")


async def _run(workers: list[Worker]) -> None:
    await asyncio.gather(*(worker.start() for worker in workers))


async def _stop_worker_task(runtime: Runtime, task: asyncio.Task[None]) -> None:
    await stop_workers(runtime.workers)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _logged(name: str, stop: Callable[..., Awaitable[Any]], *args: Any) -> None:
    try:
        await stop(*args)
    except Exception as error:
        log.warning("stop_failed", part=name, error=repr(error))
