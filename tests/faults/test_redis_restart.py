"""Redis restarted under load: nothing lost, nothing twice, one log line per thing that happened.

Redis runs as it should in production, with its append-only file (tests/support/redis_process.py),
so a restart keeps the queues; what was in flight on a connection when it went is what these
tests are about.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from app.models.messaging import Message, WebhookEvent, WebhookEventStatus
from app.platform.ids import decode_id
from tests.fakes.graph_api import inbound_webhook, signed
from tests.support.cloud_api import APP_SECRET, CloudDevice, cloud_device
from tests.support.faults import Faulty, faulty
from tests.support.messaging import eventually, member

__all__ = ["faulty"]  # the fixture, used by name

pytestmark = pytest.mark.faults


async def _meta_delivers(device: CloudDevice, wa_id: str, wamid: str) -> int:
    """What Meta does: POST the webhook until it is acknowledged with a 200; the attempts."""
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, text=wamid, wamid=wamid)
    )
    async with httpx.AsyncClient(timeout=10) as http:
        for attempt in range(1, 300):
            try:
                if (
                    await http.post(device.webhook_url, content=body, headers=headers)
                ).status_code == 200:
                    return attempt
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{wamid} was never acknowledged")


async def test_webhooks_arriving_while_redis_restarts_are_each_stored_once(
    faulty: Faulty,
) -> None:
    owner = await member(faulty.server, faulty.api)
    device = await cloud_device(faulty.server, faulty.graph, owner)
    device_pk = decode_id(device.id, "Device")
    wamids = [f"wamid.fault-{uuid.uuid4().hex[:12]}" for _ in range(60)]

    async def arrive() -> list[int]:
        deliveries = []
        for n, wamid in enumerate(wamids):
            deliveries.append(asyncio.create_task(_meta_delivers(device, f"1650555{n:04d}", wamid)))
            await asyncio.sleep(0.03)
        return list(await asyncio.gather(*deliveries))

    arriving = asyncio.create_task(arrive())
    await asyncio.sleep(0.6)
    await faulty.redis.restart(down_seconds=1.0)
    attempts = await arriving

    async def all_stored() -> bool:
        stored = await Message.filter(device_id=device_pk).values_list(
            "provider_message_id", flat=True
        )
        pending = await WebhookEvent.filter(
            device_id=device_pk, status=WebhookEventStatus.RECEIVED
        ).count()
        return sorted(stored) == sorted(wamids) and pending == 0

    await eventually(all_stored, within=60)
    assert max(attempts) > 1  # some were refused while Redis was away, and delivered again
    assert faulty.lines("webhook.queue_unavailable") or faulty.lines("redis_unavailable")
    assert faulty.tracebacks() == []
