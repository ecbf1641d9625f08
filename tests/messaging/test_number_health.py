"""What Meta says of a number and of each message's price, through webhooks: the device's
quality rating and messaging limit tier (seen live on deviceEvents), its account's standing,
and the pricing and conversation of each status, kept on the message."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import gql

from app.models.messaging import WebhookEvent, WebhookEventStatus
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi, signed, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, cloud_device, fake, post, status_of
from tests.support.messaging import SEND, eventually, member, unique_phone, wait_for_subscribers
from tests.support.server import RunningServer
from tests.support.templates import waba_device

__all__ = ["fake"]  # the fixture, used by name

DEVICE = """
query($id: ID!) {
  node(id: $id) { ... on Device { status qualityRating messagingLimitTier accountEvent } }
}
"""
DEVICE_EVENTS = """
subscription($id: ID!) {
  deviceEvents(deviceId: $id) { kind status device { qualityRating messagingLimitTier } }
}
"""
MESSAGE = """
query($id: ID!) {
  node(id: $id) { ... on Message { status pricingCategory billable deliveryDetails } }
}
"""


async def _device(owner: Any, device_id: str) -> dict[str, Any]:
    node: dict[str, Any] = (await owner.api.data(DEVICE, {"id": device_id}))["node"]
    return node


async def test_quality_webhooks_rate_the_number_and_subscribers_see_it(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    display = device.phone_number.removeprefix("+")
    seen: list[Any] = []

    async def watch(session: Any) -> None:
        async for event in session.subscribe(gql(DEVICE_EVENTS), variable_values={"id": device.id}):
            seen.append(event["deviceEvents"])
            if len(seen) == 2:
                return

    async with owner.api.websocket() as session:
        watching = asyncio.create_task(watch(session))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:devices")
        # Each delivery is its own job: one at a time, so they apply in this order.
        flagged = await fake.templates.number_quality(device.waba_id, display, "FLAGGED", "TIER_1K")
        await eventually(lambda: _truthy(seen))  # read by the subscriber before it moves on
        again = await fake.templates.number_quality(device.waba_id, display, "FLAGGED", "TIER_1K")
        await _processed(device.id, 2)
        await fake.templates.number_quality(device.waba_id, display, "UNFLAGGED", "TIER_10K")
        await asyncio.wait_for(watching, timeout=20)

    assert (flagged, again) == (200, 200)
    # The redelivered FLAGGED moved nothing, so nobody was told twice.
    assert seen == [
        {
            "kind": "HEALTH_CHANGED",
            "status": "CONNECTED",
            "device": {"qualityRating": "RED", "messagingLimitTier": "TIER_1K"},
        },
        {
            "kind": "HEALTH_CHANGED",
            "status": "CONNECTED",
            "device": {"qualityRating": "GREEN", "messagingLimitTier": "TIER_10K"},
        },
    ]


async def test_a_banned_account_fails_the_device_and_says_why(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    phone = device.phone_number.removeprefix("+")

    await fake.templates.account_update(device.waba_id, phone, "ACCOUNT_VIOLATION")
    warned = await eventually(
        lambda: _when(owner, device.id, lambda d: d["accountEvent"] == "ACCOUNT_VIOLATION")
    )
    await fake.templates.account_update(device.waba_id, phone, "DISABLED_UPDATE", "DISABLE")
    banned = await eventually(lambda: _when(owner, device.id, lambda d: d["status"] == "FAILED"))

    assert warned["status"] == "CONNECTED"
    assert (banned["status"], banned["accountEvent"]) == ("FAILED", "DISABLED_UPDATE")


async def _truthy(items: list[Any]) -> bool:
    return bool(items)


async def _processed(device_id: str, count: int) -> None:
    """Until ``count`` webhook deliveries of the device have been applied."""

    async def done() -> bool:
        return (
            await WebhookEvent.filter(
                device_id=decode_id(device_id, "Device"), status=WebhookEventStatus.PROCESSED
            ).count()
            == count
        )

    await eventually(done)


async def _when(owner: Any, device_id: str, ok: Any) -> dict[str, Any] | None:
    node = await _device(owner, device_id)
    return node if ok(node) else None


async def test_an_account_update_of_another_number_or_a_broken_one_leaves_the_rest_applied(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    changes = [
        {  # another number of the business account
            "field": "phone_number_quality_update",
            "value": {
                "display_phone_number": "15550009999",
                "event": "FLAGGED",
                "current_limit": "TIER_250",
            },
        },
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}},  # no id
        {
            "field": "phone_number_quality_update",
            "value": {
                "display_phone_number": device.phone_number.removeprefix("+"),
                "event": "UPGRADE",
                "current_limit": "TIER_100K",
            },
        },
    ]
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": device.waba_id, "changes": changes}],
    }
    body, headers = signed(APP_SECRET, payload)

    assert await post(device.webhook_url, body, headers) == 200
    node = await eventually(
        lambda: _when(owner, device.id, lambda d: d["messagingLimitTier"] == "TIER_100K")
    )

    assert node["qualityRating"] is None  # an UPGRADE moves the tier only
    device_pk = decode_id(device.id, "Device")

    async def finished() -> WebhookEvent | None:
        event = await WebhookEvent.get(device_id=device_pk)
        return event if event.status is not WebhookEventStatus.RECEIVED else None

    event = await eventually(finished)
    assert event.status is WebhookEventStatus.PARTIAL
    assert [(e["where"], e["reason"]) for e in event.errors or []] == [
        (
            "entry[0].changes[1]",
            "`message_template_id` or `message_template_name` is required",
        ),
        ("entry[0].changes[0]", "for another phone number than this device's"),
    ]


async def test_the_pricing_and_conversation_of_a_status_are_kept_on_the_message(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    to = unique_phone()
    sent = await owner.api.data(
        SEND,
        {
            "input": {
                "deviceId": device.id,
                "to": to,
                "template": {"name": "hello_world", "language": "en_US"},
            }
        },
    )
    message_id = sent["sendMessage"]["message"]["id"]
    await status_of(owner, message_id, "READ")
    [send] = fake.sends_to(to.removeprefix("+"))
    status = {
        "id": send.wamid,
        "status": "delivered",
        "timestamp": "1798000000",
        "recipient_id": send.to,
        "conversation": {
            "id": "conv-1",
            "expiration_timestamp": "1798086400",
            "origin": {"type": "marketing"},
        },
        "pricing": {
            "billable": False,
            "pricing_model": "PMP",
            "category": "marketing",
            "type": "free_entry_point",
        },
    }
    body, headers = signed(
        APP_SECRET, webhook_envelope(device.phone_number_id, {"statuses": [status]})
    )

    assert await post(device.webhook_url, body, headers) == 200

    # The fake priced the send already (billable marketing); this late status says otherwise.
    async def priced() -> dict[str, Any] | None:
        node = (await owner.api.data(MESSAGE, {"id": message_id}))["node"]
        return node if node["billable"] is False else None

    node = await eventually(priced)
    assert (node["status"], node["pricingCategory"]) == ("READ", "marketing")
    assert node["deliveryDetails"]["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "marketing",
        "type": "free_entry_point",
    }
    assert node["deliveryDetails"]["conversation"] == {
        "id": "conv-1",
        "origin": "marketing",
        "expires_at": "2026-12-24T04:26:40+00:00",
    }
