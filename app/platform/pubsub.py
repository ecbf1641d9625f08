"""Events across processes: published to Redis, fanned out in-process.

Whichever process causes an event (an API process or a worker) publishes it to a Redis
channel. Each API process holds ONE Redis subscription per channel, however many local
subscribers it has, and hands each event to them through bounded queues: a subscriber that
falls behind is dropped (its iterator raises :class:`SubscriberTooSlow`, a typed
SUBSCRIBER_TOO_SLOW error ending that one subscription) instead of growing memory without end.

Redis pub/sub channels belong to the whole server, not to one of its numbered databases: two
deployments (or two test servers) on one Redis server but different databases would hear each
other's events, their organization ids colliding. So on Redis each channel carries the number
of the database (:func:`redis_channel`); callers name channels plainly (``org:1:templates``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog

from app.platform.errors import AppError, ErrorCode, ServiceUnavailable

log = structlog.get_logger("parley.pubsub")


class SubscriberTooSlow(AppError):
    """The subscription's events came faster than it handled them and its queue overflowed:
    later events are missing, so it ends; its client subscribes again after the last event it
    saw (its cursor). The socket and its other subscriptions go on."""

    code = ErrorCode.SUBSCRIBER_TOO_SLOW
    default_message = (
        "This subscription fell too far behind its events; "
        "subscribe again (with `after`, your last cursor)."
    )


class EventsInterrupted(ServiceUnavailable):
    """The connection to Redis was lost: events published meanwhile may be missing, so the
    subscription ends; its client subscribes again after the last event it saw (its cursor)."""

    default_message = (
        "Live events were interrupted; subscribe again (with `after`, your last cursor)."
    )


_INTERRUPTED: dict[str, Any] = {}  # the wake-up an interruption puts in a queue


def redis_channel(redis: aioredis.Redis, name: str) -> str:
    """The Redis channel that carries channel ``name`` for the database ``redis`` uses
    (``org:1:templates`` on database 3 is ``db3:org:1:templates``). Whatever publishes,
    subscribes or counts subscribers on Redis directly names its channels with this."""
    return _prefix(redis) + name


def _prefix(redis: aioredis.Redis) -> str:
    return f"db{int(redis.connection_pool.connection_kwargs.get('db') or 0)}:"


class _Subscriber:
    __slots__ = ("interrupted", "overflowed", "queue")

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.interrupted = False

    def interrupt(self) -> None:
        # A wake-up for a subscriber waiting on an empty queue; a full one drains first.
        self.interrupted = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(_INTERRUPTED)

    def offer(self, event: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class Broker:
    def __init__(self, redis: aioredis.Redis, *, queue_size: int = 1000) -> None:
        self._redis = redis
        self._prefix = _prefix(redis)
        self._queue_size = queue_size
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._subscribers: dict[str, set[_Subscriber]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def redis(self) -> aioredis.Redis:
        """The process's Redis client the broker publishes on, for other short commands."""
        return self._redis

    def redis_channel(self, name: str) -> str:
        """:func:`redis_channel` of ``name`` for this broker's database."""
        return self._prefix + name

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        await self._redis.publish(self.redis_channel(channel), orjson.dumps(event))

    async def publish_many(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish ``(channel, event)`` pairs in order, in one round trip."""
        if not events:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, event in events:
                pipe.publish(self.redis_channel(channel), orjson.dumps(event))
            await pipe.execute()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *channels: str, idle_seconds: float | None = None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any] | None]]:
        """Events of ``channels``; with ``idle_seconds``, ``None`` after that long without
        one, so a subscriber can re-check its authorization while nothing happens."""
        subscriber = _Subscriber(self._queue_size)
        async with self._lock:
            new = [c for c in channels if c not in self._subscribers]
            if new:
                try:
                    await self._pubsub.subscribe(*map(self.redis_channel, new))
                except (aioredis.RedisError, OSError) as error:
                    raise ServiceUnavailable() from error  # the client subscribes again
            for channel in channels:
                self._subscribers.setdefault(channel, set()).add(subscriber)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="pubsub-reader")
        try:
            yield self._events(subscriber, idle_seconds)
        finally:
            async with self._lock:
                gone = []
                for channel in channels:
                    members = self._subscribers.get(channel)
                    if members is not None:
                        members.discard(subscriber)
                        if not members:
                            del self._subscribers[channel]
                            gone.append(channel)
                if gone:
                    with contextlib.suppress(aioredis.RedisError, OSError):
                        await self._pubsub.unsubscribe(*map(self.redis_channel, gone))

    async def _events(
        self, subscriber: _Subscriber, idle_seconds: float | None
    ) -> AsyncIterator[dict[str, Any] | None]:
        while True:
            if subscriber.overflowed and subscriber.queue.empty():
                log.warning("pubsub_subscriber_too_slow", queue_size=self._queue_size)
                raise SubscriberTooSlow
            if subscriber.interrupted and subscriber.queue.empty():
                raise EventsInterrupted
            if idle_seconds is None:
                event = await subscriber.queue.get()
            else:
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), idle_seconds)
                except TimeoutError:
                    yield None
                    continue
            if event is _INTERRUPTED:
                raise EventsInterrupted
            yield event

    async def _read(self) -> None:
        while True:
            try:
                if not self._subscribers:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (aioredis.RedisError, OSError) as error:
                self._interrupt(error)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            channel = channel.removeprefix(self._prefix)
            event = orjson.loads(message["data"])
            for subscriber in tuple(self._subscribers.get(channel, ())):
                subscriber.offer(event)

    def _interrupt(self, error: Exception) -> None:
        """End every current subscription: what was published while the connection was down
        is lost to them, and their clients resume from their cursors. Said in one line."""
        subscribers = {s for members in self._subscribers.values() for s in members}
        fresh = [s for s in subscribers if not s.interrupted]
        for subscriber in fresh:
            subscriber.interrupt()
        if fresh:
            log.warning("pubsub_interrupted", subscriptions=len(fresh), error=type(error).__name__)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(aioredis.RedisError, OSError):
            await self._pubsub.aclose()
