"""Redis restarted under load: nothing lost, nothing twice, one log line per thing that happened.

Redis runs as it should in production, with its append-only file (tests/support/redis_process.py),
so a restart keeps the queues; what was in flight on a connection when it went is what these
tests are about.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import httpx
import pytest
from gql import gql

from app.models.accounts import Role
from app.models.messaging import Message, WebhookEvent, WebhookEventStatus
from app.platform.ids import decode_id, to_global_id
from tests.campaigns.support import CREATE, act, campaign_of, contacts
from tests.fakes.graph_api import inbound_webhook, signed
from tests.support.cloud_api import APP_SECRET, CloudDevice, cloud_device
from tests.support.faults import Faulty, faulty
from tests.support.messaging import Member, eventually, member, sandbox_device, simulate

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


async def test_a_campaign_survives_a_redis_restart_and_sends_each_recipient_once(
    faulty: Faulty,
) -> None:
    owner = await member(faulty.server, faulty.api, Role.ADMIN)
    device = await cloud_device(faulty.server, faulty.graph, owner, per_second=40)
    people = await contacts(owner, 240, tag="restart")
    created = await owner.api.data(
        CREATE,
        {
            "input": {
                "name": "Restart",
                "deviceId": device.id,
                "template": {"name": "welcome", "language": "en_US", "parameters": []},
                "tags": ["restart"],
            }
        },
    )
    campaign_id = created["createCampaign"]["campaign"]["id"]

    await act(owner, "startCampaign", campaign_id)
    await eventually(lambda: _sent_at_least(faulty, 60), within=30)
    await faulty.redis.restart(down_seconds=2.0)
    done = await eventually(lambda: _completed(owner, campaign_id), within=120, interval=0.5)

    counts = faulty.graph.send_counts()
    assert set(counts) == {p.phone_number.removeprefix("+") for p in people}
    assert set(counts.values()) == {1}  # nobody twice
    assert done["stats"]["sent"] + done["stats"]["delivered"] + done["stats"]["read"] == 240
    assert faulty.tracebacks() == []


async def _completed(owner: Member, campaign_id: str) -> dict[str, Any] | None:
    try:  # as a client: a 503 while Redis comes back is asked again
        campaign = await campaign_of(owner, campaign_id)
    except AssertionError:
        return None
    return campaign if campaign["status"] == "COMPLETED" else None


async def _sent_at_least(faulty: Faulty, n: int) -> bool:
    return len(faulty.graph.sends) >= n


EVENTS = """
subscription($deviceId: ID, $after: String) {
  messageEvents(deviceId: $deviceId, after: $after) { kind cursor message { id } }
}
"""


async def test_live_subscriptions_end_on_a_redis_restart_and_resume_from_their_cursor(
    faulty: Faulty,
) -> None:
    owner = await member(faulty.server, faulty.api)
    device_id = await sandbox_device(owner)
    seen: list[str] = []
    refusals: list[str] = []
    state: dict[str, Any] = {"cursor": None, "sessions": 0}

    async def subscriber() -> None:
        """A client: subscribes, and after an error subscribes again from its cursor."""
        while True:
            try:
                async with owner.api.websocket() as session:
                    state["sessions"] += 1
                    variables = {"deviceId": device_id, "after": state["cursor"]}
                    async for result in session.subscribe(gql(EVENTS), variable_values=variables):
                        event = result["messageEvents"]
                        if event["kind"] == "CREATED":
                            seen.append(event["message"]["id"])
                        state["cursor"] = event["cursor"]
            except Exception as error:
                refusals.append(str(error))
                await asyncio.sleep(0.2)

    async def written(n: int) -> None:
        for _ in range(n):
            with contextlib.suppress(Exception):  # refused while Redis is away: a client retries
                await simulate(owner, device_id, "+16505550999", "hello")
            await asyncio.sleep(0.1)

    listening = asyncio.create_task(subscriber())
    await simulate(owner, device_id, "+16505550999", "first")
    await eventually(lambda: _truthy(seen), within=10)
    writing = asyncio.create_task(written(40))
    await asyncio.sleep(1.0)
    await faulty.redis.restart(down_seconds=1.0)
    await writing
    stored = {
        to_global_id("Message", pk)
        for pk in await Message.filter(device_id=decode_id(device_id, "Device")).values_list(
            "id", flat=True
        )
    }
    await eventually(lambda: _truthy(stored <= set(seen)), within=30)
    tracebacks = faulty.tracebacks()  # before the test's own client is torn down
    listening.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listening

    assert sorted(seen) == sorted(stored)  # each message once: none lost, none twice
    assert state["sessions"] >= 2 and any(
        "SERVICE_UNAVAILABLE" in r or "interrupted" in r for r in refusals
    )
    assert len(faulty.lines("pubsub_interrupted")) == 1
    assert tracebacks == []


async def _truthy(value: Any) -> bool:
    return bool(value)
