from __future__ import annotations

import uuid

import httpx

from app.models.messaging import Device, Message, UnmatchedStatus, WebhookEvent
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi, inbound_webhook, sign, signed, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import (
    APP_SECRET,
    cloud_device,
    conversation_of,
    fake,
    inbound,
    post,
    status_of,
)
from tests.support.messaging import SEND, eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

MESSAGES = """
query($id: ID!) {
  node(id: $id) {
    ... on Conversation { messages(last: 20) { nodes { id body direction status } } }
  }
}
"""
DEVICE = "query($id: ID!) { node(id: $id) { ... on Device { id status } } }"


async def test_a_signed_inbound_webhook_is_stored_and_becomes_a_message(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)

    status = await fake.deliver_inbound(device.phone_number_id, "16505550101", text="Hi there")
    conversation_id = await conversation_of(owner, device)

    messages = (await owner.api.data(MESSAGES, {"id": conversation_id}))["node"]["messages"]
    assert [(m["body"], m["direction"], m["status"]) for m in messages["nodes"]] == [
        ("Hi there", "INBOUND", "RECEIVED")
    ]
    device_pk = decode_id(device.id, "Device")
    assert status == 200
    assert await WebhookEvent.filter(device_id=device_pk).count() == 1


async def test_a_forged_or_unsigned_webhook_is_refused_and_nothing_is_stored(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    body, headers = signed("not-the-app-secret", inbound_webhook(device.phone_number_id, "1650"))

    forged = await post(device.webhook_url, body, headers)
    unsigned = await post(device.webhook_url, body, {"Content-Type": "application/json"})

    assert (forged, unsigned) == (403, 401)
    device_pk = decode_id(device.id, "Device")
    assert await WebhookEvent.filter(device_id=device_pk).count() == 0
    assert await Message.filter(device_id=device_pk).count() == 0


async def test_malformed_json_with_a_valid_signature_is_a_400_not_a_500(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    body = b"{not json"
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, body)}

    status = await post(device.webhook_url, body, headers)

    assert status == 400


async def test_a_webhook_delivered_twice_stores_the_message_once(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wamid = f"wamid.DUP{uuid.uuid4().hex}"
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, "16505550102", wamid=wamid)
    )

    first = await post(device.webhook_url, body, headers)
    second = await post(device.webhook_url, body, headers)

    assert (first, second) == (200, 200)
    device_pk = decode_id(device.id, "Device")

    async def both_processed() -> bool:
        return await WebhookEvent.filter(device_id=device_pk, status="PROCESSED").count() == 2

    await eventually(both_processed)
    assert await Message.filter(device_id=device_pk, provider_message_id=wamid).count() == 1


async def test_the_verification_challenge_needs_the_devices_verify_token(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    verify_token = (await Device.get(id=decode_id(device.id, "Device"))).verify_token

    async with httpx.AsyncClient() as client:
        good = await client.get(
            device.webhook_url,
            params={
                "hub.mode": "subscribe",
                "hub.challenge": "42",
                "hub.verify_token": verify_token,
            },
        )
        bad = await client.get(
            device.webhook_url,
            params={"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "nope"},
        )

    assert (good.status_code, good.text, bad.status_code) == (200, "42", 403)


async def test_a_reply_is_sent_through_the_graph_api_and_advances_to_read(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550103")

    reply = await owner.api.data(
        SEND, {"input": {"conversationId": conversation_id, "text": "Hello from Parley"}}
    )

    message = reply["sendMessage"]["message"]
    assert message["status"] == "QUEUED"
    await status_of(owner, message["id"], "READ")
    assert [s.body["text"]["body"] for s in fake.sends_to("16505550103")] == ["Hello from Parley"]


async def test_an_out_of_order_status_never_moves_a_message_backwards(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    conversation_id = await inbound(owner, fake, device, "16505550104")
    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "x"}})
    message_id = reply["sendMessage"]["message"]["id"]
    await status_of(owner, message_id, "SENT")
    wamid = fake.sends_to("16505550104")[0].wamid

    for status in ("read", "delivered", "sent"):
        value = {"statuses": [{"id": wamid, "status": status, "timestamp": "1700000000"}]}
        body, headers = signed(APP_SECRET, webhook_envelope(device.phone_number_id, value))
        assert await post(device.webhook_url, body, headers) == 200

    device_pk = decode_id(device.id, "Device")

    async def all_processed() -> bool:
        return await WebhookEvent.filter(device_id=device_pk, status="PROCESSED").count() == 4

    await eventually(all_processed)
    assert (await status_of(owner, message_id, "READ"))["status"] == "READ"


async def test_a_status_for_an_unknown_message_id_is_kept_for_reconciliation(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wamid = f"wamid.UNKNOWN{uuid.uuid4().hex}"
    value = {"statuses": [{"id": wamid, "status": "delivered", "timestamp": "1700000000"}]}
    body, headers = signed(APP_SECRET, webhook_envelope(device.phone_number_id, value))

    status = await post(device.webhook_url, body, headers)

    assert status == 200

    async def kept() -> bool:
        return await UnmatchedStatus.exists(provider_message_id=wamid)

    await eventually(kept)


async def test_a_throughput_error_is_retried_and_the_message_is_sent(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550105")
    fake.fail_next(130429, to="16505550105")

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "y"}})

    await status_of(owner, reply["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")
    attempts = fake.attempts_to("16505550105")
    assert [a.error_code for a in attempts] == [130429, None]
    assert len(fake.sends_to("16505550105")) == 1


async def test_an_undeliverable_message_fails_with_the_reason(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550106")
    fake.fail_next(131026, to="16505550106")

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "z"}})

    failed = await status_of(owner, reply["sendMessage"]["message"]["id"], "FAILED")
    assert failed["errorCode"] == 131026
    assert "UNDELIVERABLE" in failed["errorMessage"]
    assert len(fake.attempts_to("16505550106")) == 1


async def test_an_undeliverable_status_webhook_fails_the_message_with_the_reason(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550107")
    fake.fail_status("16505550107", 131026)

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "w"}})

    failed = await status_of(owner, reply["sendMessage"]["message"]["id"], "FAILED")
    assert failed["errorCode"] == 131026
    assert failed["errorMessage"]


async def test_an_expired_token_disconnects_the_device(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550108")
    fake.fail_next(190, to="16505550108")

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "v"}})

    await status_of(owner, reply["sendMessage"]["message"]["id"], "FAILED")
    assert (await owner.api.data(DEVICE, {"id": device.id}))["node"]["status"] == "DISCONNECTED"
