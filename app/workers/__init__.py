"""SAQ queues and workers.

Jobs are plain ``async def job(ctx, *, some_id)`` functions registered per queue in
``app.workers.registry``. ``ctx["runtime"]`` is the process's :class:`app.runtime.Runtime`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from saq import CronJob, Queue, Worker
from saq.queue.redis import RedisQueue

from app.redis import connect

log = structlog.get_logger("parley.workers")

QUEUE_NAMES = ("default", "campaigns", "ai")


class Queues:
    """One SAQ queue per name, sharing a Redis connection pool."""

    def __init__(self, url: str) -> None:
        self._redis = connect(url)
        self.by_name: dict[str, Queue] = {
            name: RedisQueue(self._redis, name=name)
            for name in QUEUE_NAMES  # type: ignore[arg-type]
        }

    def __getitem__(self, name: str) -> Queue:
        return self.by_name[name]

    async def connect(self) -> None:
        for queue in self.by_name.values():
            await queue.connect()

    async def disconnect(self) -> None:
        for queue in self.by_name.values():
            await queue._pubsub.close()  # type: ignore[attr-defined]
        await self._redis.aclose()

    async def enqueue(self, queue: str, function: str, **kwargs: Any) -> None:
        await self.by_name[queue].enqueue(function, **kwargs)


class _InProcessWorker(Worker):
    # Inside the API process uvicorn owns SIGINT/SIGTERM; the lifespan stops the worker.
    SIGNALS: list[Any] = []


def build_workers(
    queues: Queues,
    *,
    concurrency: int,
    startup: Callable[[dict[str, Any]], Any],
    in_process: bool,
) -> list[Worker]:
    from app.workers.registry import CRON_JOBS, FUNCTIONS

    worker_class = _InProcessWorker if in_process else Worker
    workers: list[Worker] = []
    for name in QUEUE_NAMES:
        functions: Sequence[Any] = FUNCTIONS.get(name, [])
        cron: Sequence[CronJob[Any]] = CRON_JOBS.get(name, [])
        workers.append(
            worker_class(
                queues[name],
                functions=list(functions),
                cron_jobs=list(cron),
                concurrency=concurrency,
                startup=startup,
                timers={"schedule": 1, "sweep": 30, "abort": 1, "worker_info": 10},
                # Short blocking dequeues let a stopping worker notice promptly; running
                # jobs get the grace period to finish.
                dequeue_timeout=1.0,
                # SAQ's stop waits the whole grace period for its upkeep loops, which never
                # end by themselves; jobs are safe to rerun, so an interrupted one is swept
                # and retried rather than holding the shutdown.
                shutdown_grace_period_s=1 if in_process else 10,
            )
        )
    return workers


async def run_workers(workers: Sequence[Worker]) -> None:
    await asyncio.gather(*(worker.start() for worker in workers))


async def stop_workers(workers: Sequence[Worker]) -> None:
    await asyncio.gather(*(_stop(worker) for worker in workers), return_exceptions=True)


async def _stop(worker: Worker) -> None:
    # A worker running no job holds only SAQ's upkeep loops (asleep for up to their timer)
    # and dequeues waiting in Redis: they end now, rather than outliving the grace period and
    # being cancelled with a warning. A running job still gets the grace period.
    if not worker.job_task_contexts:
        worker.event.set()
        for task in list(worker.tasks):
            task.cancel()
    await worker.stop()
