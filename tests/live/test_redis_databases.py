"""Live events stay within their Redis database, though Redis pub/sub channels belong to the
whole server: two deployments on one Redis server name the same ``org:1:…`` channels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from app.platform.events import TEMPLATES, channel
from app.platform.pubsub import Broker
from app.platform.redis import connect
from tests.support.messaging import eventually
from tests.support.redis_process import RedisProcess

TEMPLATES_OF_ORG_1 = channel(1, TEMPLATES)


async def test_a_subscriber_hears_its_own_redis_database_and_not_another_on_the_same_server(
    tmp_path: Path,
) -> None:
    redis_server = RedisProcess(tmp_path / "redis")
    await redis_server.start()
    ours, ours_too, theirs = (
        Broker(connect(f"redis://127.0.0.1:{redis_server.port}/{db}")) for db in (13, 13, 14)
    )
    try:
        async with (
            ours.subscribe(TEMPLATES_OF_ORG_1) as our_events,
            theirs.subscribe(TEMPLATES_OF_ORG_1) as their_events,
        ):
            await eventually(lambda: _listened(ours))
            await eventually(lambda: _listened(theirs))

            # In this order: a subscriber hearing the other database gets its event first.
            await theirs.publish(TEMPLATES_OF_ORG_1, {"template_id": 1, "from": "theirs"})
            await ours_too.publish(TEMPLATES_OF_ORG_1, {"template_id": 1, "from": "ours"})
            await theirs.publish(TEMPLATES_OF_ORG_1, {"template_id": 2, "from": "theirs"})
            await ours_too.publish(TEMPLATES_OF_ORG_1, {"template_id": 2, "from": "ours"})
            heard_by_us = await _first(our_events, 2)
            heard_by_them = await _first(their_events, 2)
    finally:
        for broker in (ours, ours_too, theirs):
            await broker.close()
            await broker.redis.aclose()
        await redis_server.stop()

    assert heard_by_us == [{"template_id": 1, "from": "ours"}, {"template_id": 2, "from": "ours"}]
    assert heard_by_them == [
        {"template_id": 1, "from": "theirs"},
        {"template_id": 2, "from": "theirs"},
    ]


async def _listened(broker: Broker) -> bool:
    """Redis has the broker's subscription (its SUBSCRIBE is not awaited to the reply)."""
    [(_, count)] = await broker.redis.pubsub_numsub(broker.redis_channel(TEMPLATES_OF_ORG_1))
    return bool(count)


async def _first(events: AsyncIterator[dict[str, Any] | None], n: int) -> list[Any]:
    heard = []
    async with asyncio.timeout(5):
        async for event in events:
            heard.append(event)
            if len(heard) == n:
                return heard
    return heard
