"""Webhook deliveries stored and queued a batch at a time (a group commit).

Meta posts every status on a request of its own: three for each message sent, thousands a
second while a campaign runs. Stored one by one, each delivery cost an INSERT and a queued job
(a handful of Redis commands) of its own, and requests waited behind each other's round trips.
Here the deliveries that arrive while one batch is being written wait for the next: one INSERT
for all of them and one job naming them all. A request is still answered only once its
delivery is committed and its job queued, so nothing acknowledged can be lost; under light
traffic a batch is the one delivery, written at once (no timer to wait for).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.exceptions import RedisError
from tortoise import connections

from app.messaging.jobs import PROCESS_WEBHOOK_EVENTS
from app.models.messaging import WebhookEvent, WebhookEventStatus
from app.platform import clock
from app.platform.queues import Queues
from app.platform.sql import Binder

MAX_BATCH = 200  # deliveries in one INSERT and one job
# A batch job's time to run before SAQ cancels it and tries again. Its deliveries share the
# worker with a campaign's sends, so a busy worker takes many seconds over a large batch: the
# 10 s default cancelled batches that were making progress (bench/pipeline.py), only to apply
# them again. A worker that dies mid-batch leaves its job to the sweep this much later.
BATCH_JOB_TIMEOUT_SECONDS = 60


class NotStored(Exception):
    """A delivery's batch could not be stored and queued; its cause says why (a store away is
    answered 503 by app.http.outages)."""


class QueueUnavailable(NotStored):
    """Redis refused the batch's job: its deliveries were removed again, not acknowledged."""


@dataclass(slots=True)
class _Delivery:
    organization_id: int
    device_id: int
    body: str
    stored: asyncio.Future[None]


class Intake:
    """Stores the deliveries of one process, a batch at a time, and queues their job."""

    def __init__(self, queues: Queues) -> None:
        self._queues = queues
        self._waiting: list[_Delivery] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, organization_id: int, device_id: int, body: str) -> None:
        """Store a delivery and queue its processing; returns once both are done. Raises
        :class:`QueueUnavailable` when Redis refused the job (the delivery is not kept), or
        :class:`NotStored` caused by what the database raised."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stored.add_done_callback(_retrieved)
        self._waiting.append(_Delivery(organization_id, device_id, body, stored))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        # Shielded: a sender that hangs up does not take its delivery out of a batch being
        # written (Meta delivers it again; its items are applied once by their ids).
        await asyncio.shield(stored)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._write(batch)
            except BaseException as error:  # every waiting request learns what happened
                cancelled = not isinstance(error, Exception)
                failed = error if isinstance(error, Exception) else NotStored("stopping")
                # Cancelled (the process stops): the deliveries still waiting go unanswered too.
                gone = [*batch, *self._waiting] if cancelled else batch
                for delivery in gone:
                    if not delivery.stored.done():
                        delivery.stored.set_exception(_not_stored(failed))
                if cancelled:
                    self._waiting = []
                    raise
            else:
                for delivery in batch:
                    if not delivery.stored.done():
                        delivery.stored.set_result(None)

    async def _write(self, batch: list[_Delivery]) -> None:
        ids = await _insert(batch)
        try:
            await self._queues.enqueue(
                PROCESS_WEBHOOK_EVENTS,
                key=f"webhooks:{ids[0]}:{len(ids)}",
                event_ids=ids,
                timeout=BATCH_JOB_TIMEOUT_SECONDS,
                retries=3,
                retry_delay=1.0,
                retry_backoff=True,
            )
        except (RedisError, OSError) as error:
            # Not acknowledged, so Meta delivers them again; these copies would never be
            # processed, so they go.
            await WebhookEvent.filter(id__in=ids).delete()
            raise QueueUnavailable(type(error).__name__) from error


async def _insert(batch: list[_Delivery]) -> list[int]:
    connection = connections.get("default")
    bind = Binder(connection)
    rows = bind.table(
        "delivery",
        [("organization_id", "bigint"), ("device_id", "bigint"), ("raw_body", "text")],
        [(d.organization_id, d.device_id, d.body) for d in batch],
    )
    now = clock.now()
    sql = (
        f"WITH {rows} INSERT INTO {WebhookEvent._meta.db_table}"
        " (organization_id, device_id, raw_body, status, created_at, updated_at)"
        f" SELECT organization_id, device_id, raw_body, {bind(WebhookEventStatus.RECEIVED.value)},"
        f" {bind(now, 'timestamptz')}, {bind(now, 'timestamptz')} FROM delivery RETURNING id"
    )
    return sorted(row["id"] for row in await connection.execute_query_dict(sql, bind.params))


def _not_stored(error: Exception) -> NotStored:
    # An exception of its own for each waiting request (one shared exception's traceback
    # would grow with every request that raised it), caused by what happened.
    kind = QueueUnavailable if isinstance(error, QueueUnavailable) else NotStored
    failure = kind(str(error))
    failure.__cause__ = error.__cause__ if isinstance(error, QueueUnavailable) else error
    return failure


def _retrieved(future: asyncio.Future[None]) -> None:
    # Read, so that a failure nobody awaits any more (its sender hung up) is not reported
    # as "never retrieved": its request was answered, or ended, already.
    if not future.cancelled():
        future.exception()
