"""Which webhooks each organization has active, known in every process without a query.

The outbox's recorder asks this for every live event, in the transaction of the change: an
organization without webhooks must cost nothing there. So each process keeps the answer in
memory, per organization (an empty list too), and forgets an organization when its webhooks
change: the change (a webhook created, updated, paused, resumed or deleted) is announced on
the Redis channel :data:`CHANNEL` once it committed, and every process listening forgets it.

A process that is not listening (starting, or its Redis subscription lost) reads the database
every time, and forgets everything when it listens again: an announcement it missed cannot
leave an answer stale. A load that an announcement overtook is used once but not kept.
Entries also expire after :data:`TTL_SECONDS`, a bound on anything missed still.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable

import structlog

from app.models.integrations import Webhook
from app.platform.pubsub import Broker

log = structlog.get_logger("parley.webhooks")

CHANNEL = "webhooks:changed"
TTL_SECONDS = 60.0
_RETRY_SECONDS = 1.0


class ActiveWebhooks:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._rows: dict[int, tuple[float, list[Webhook]]] = {}
        self._generation = 0  # moves with every forgetting: a load it overtook is not kept
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._listening

    async def of(self, organization_ids: Iterable[int]) -> list[Webhook]:
        """The active webhooks of ``organization_ids``, by organization then id."""
        wanted = sorted(set(organization_ids))
        if not self._listening:
            return await _load(wanted)
        now = time.monotonic()
        missing = [o for o in wanted if o not in self._rows or self._rows[o][0] < now]
        if missing:
            generation = self._generation
            loaded = await _load(missing)
            by_org: dict[int, list[Webhook]] = {o: [] for o in missing}
            for webhook in loaded:
                by_org[webhook.organization_id].append(webhook)
            if generation == self._generation and self._listening:
                expires = now + TTL_SECONDS
                self._rows.update((o, (expires, rows)) for o, rows in by_org.items())
            else:
                return [w for o in wanted for w in (by_org.get(o) or self._cached(o))]
        return [w for o in wanted for w in self._cached(o)]

    def _cached(self, organization_id: int) -> list[Webhook]:
        entry = self._rows.get(organization_id)
        return entry[1] if entry is not None else []

    def forget(self, organization_id: int | None = None) -> None:
        """Forget one organization's answer (None: every answer)."""
        self._generation += 1
        if organization_id is None:
            self._rows.clear()
        else:
            self._rows.pop(organization_id, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="active-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._listening = False

    async def _listen(self) -> None:
        while True:
            try:
                async with self.broker.subscribe(CHANNEL) as announcements:
                    self.forget()
                    self._listening = True
                    async for announcement in announcements:
                        if announcement is not None:
                            self.forget(int(announcement["organization_id"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis away: read the database until it is back
                log.warning("active_webhooks_not_listening", error=type(error).__name__)
            finally:
                self._listening = False
                self.forget()
            await asyncio.sleep(_RETRY_SECONDS)


async def _load(organization_ids: list[int]) -> list[Webhook]:
    if not organization_ids:
        return []
    return list(
        await Webhook.filter(organization_id__in=organization_ids, active=True).order_by(
            "organization_id", "id"
        )
    )


# The caches of this process, one per attached runtime (tests run several servers).
_caches: list[ActiveWebhooks] = []


def register(cache: ActiveWebhooks) -> None:
    _caches.append(cache)
    cache.start()


async def unregister(cache: ActiveWebhooks) -> None:
    if cache in _caches:
        _caches.remove(cache)
    await cache.stop()


async def changed(organization_id: int) -> None:
    """An organization's webhooks changed (committed): forget it here at once, and in every
    other process through Redis. A failed announcement is logged: the entries' expiry bounds
    how long another process may miss the change."""
    brokers: list[Broker] = []
    for cache in _caches:
        cache.forget(organization_id)
        if cache.broker not in brokers:
            brokers.append(cache.broker)
    for broker in brokers:
        try:
            await broker.publish(CHANNEL, {"organization_id": organization_id})
        except Exception as error:
            log.error("webhooks_change_not_announced", error=type(error).__name__)
