"""SAQ queues, and jobs named by reference.

A job is declared beside the domain that enqueues it (``SEND_MESSAGE = Job("default",
"send_message")``) and implemented in ``app/workers/``, which registers its function under
that declaration; enqueueing names the declaration, never a free string. The domain cannot
import its workers (they import the domain), so the declaration is the reference both share;
``app.workers.registry`` refuses a function whose name differs from its job's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from saq import Queue, Worker
from saq.queue.redis import RedisQueue

from app.platform import telemetry
from app.platform.redis import connect

QueueName = Literal["default", "campaigns", "ai"]
QUEUE_NAMES: tuple[QueueName, ...] = ("default", "campaigns", "ai")


@dataclass(frozen=True)
class Job:
    """A job by reference: the queue that runs it and the name its function has."""

    queue: QueueName
    name: str


class Queues:
    """One SAQ queue per name, sharing a Redis connection pool."""

    def __init__(self, url: str) -> None:
        self._redis = connect(url)
        self.by_name: dict[str, Queue] = {
            name: RedisQueue(self._redis, name=name) for name in QUEUE_NAMES
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

    async def enqueue(self, job: Job, **kwargs: Any) -> None:
        meta = telemetry.job_meta()  # the job continues the enqueuer's trace
        if meta is not None:
            kwargs["meta"] = {**kwargs.get("meta", {}), **meta}
        await self.by_name[job.queue].enqueue(job.name, **kwargs)


async def stop_workers(workers: Sequence[Worker]) -> None:
    await asyncio.gather(*(_stop(worker) for worker in workers), return_exceptions=True)


async def _stop(worker: Worker) -> None:
    # SAQ's stop waits for every task of the worker, and its upkeep loops (asleep for up to
    # their timer) never end by themselves: they are cancelled now, rather than outliving the
    # grace period and being cancelled with a warning. A worker running no job holds only
    # those and dequeues waiting in Redis, which end now too; a running job gets the grace
    # period to finish, and the other dequeues end within their timeout.
    worker.event.set()
    idle = not worker.job_task_contexts
    for task in list(worker.tasks):
        if idle or task.get_name() != "process":
            task.cancel()
    await worker.stop()
