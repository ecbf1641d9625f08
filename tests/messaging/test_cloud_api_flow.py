from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.models.messaging import Device, Message, UnmatchedStatus, WebhookEvent
from app.schema.node import decode_id
from tests.fakes.graph_api import FakeGraphApi, inbound_webhook, sign, signed, webhook_envelope
from tests.support.client import Api
from tests.support.messaging import (
    CONNECT_DEVICE,
    CREATE_DEVICE,
    SEND,
    Member,
    eventually,
    member,
    unique_phone,
)
from tests.support.server import RunningServer

APP_SECRET = "cloud-app-secret"

MESSAGES = """
query($id: ID!) {
  node(id: $id) {
    ... on Conversation { messages(last: 20) { nodes { id body direction status } } }
  }
}
"""
MESSAGE = """
query($id: ID!) {
  node(id: $id) { ... on Message { id status errorCode errorMessage } }
}
"""
DEVICE = "query($id: ID!) { node(id: $id) { ... on Device { id status } } }"
CONVERSATIONS = """
query($deviceId: ID) {
  conversations(deviceId: $deviceId) { nodes { id contact { phoneNumber } } }
}
"""


@dataclass
class CloudDevice:
    id: str
    phone_number_id: str
    webhook_url: str


@pytest.fixture
async def fake(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi(app_secret=APP_SECRET, status_delay=0.01) as graph:
        monkeypatch.setattr(server.settings, "whatsapp_graph_url", graph.base_url)
        yield graph


async def _cloud_device(
    server: RunningServer, fake: FakeGraphApi, owner: Member, *, statuses: bool = True
) -> CloudDevice:
    phone_number_id = str(uuid.uuid4().int % 10**12)
    token = f"token-{uuid.uuid4().hex}"
    data = await owner.api.data(
        CREATE_DEVICE,
        {
            "input": {
                "name": "Cloud",
                "phoneNumber": unique_phone(),
                "provider": "CLOUD_API",
                "cloudApi": {
                    "phoneNumberId": phone_number_id,
                    "accessToken": token,
                    "appSecret": APP_SECRET,
                },
            }
        },
    )
    device_id = data["createDevice"]["device"]["id"]
    await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
    url = f"{server.url}/webhooks/whatsapp/{device_id}"
    fake.register(phone_number_id, token, webhook_url=url if statuses else None)
    return CloudDevice(device_id, phone_number_id, url)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.post(url, content=body, headers=headers)).status_code


async def _inbound(owner: Member, fake: FakeGraphApi, device: CloudDevice, wa_id: str) -> str:
    """A customer writes; returns the conversation id once the webhook is processed."""
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, text="Hi there")
    )
    assert await _post(device.webhook_url, body, headers) == 200
    return await _conversation_of(owner, device)


async def _conversation_of(owner: Member, device: CloudDevice) -> str:
    async def conversation() -> str | None:
        data = await owner.api.data(CONVERSATIONS, {"deviceId": device.id})
        nodes = data["conversations"]["nodes"]
        return nodes[0]["id"] if nodes else None

    conversation_id: str = await eventually(conversation)
    return conversation_id


async def _status_of(owner: Member, message_id: str, *wanted: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        node = (await owner.api.data(MESSAGE, {"id": message_id}))["node"]
        return node if node["status"] in wanted else None

    result: dict[str, Any] = await eventually(check)
    return result


async def test_a_signed_inbound_webhook_is_stored_and_becomes_a_message(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)

    status = await fake.deliver_inbound(device.phone_number_id, "16505550101", text="Hi there")
    conversation_id = await _conversation_of(owner, device)

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
    device = await _cloud_device(server, fake, owner)
    body, headers = signed("not-the-app-secret", inbound_webhook(device.phone_number_id, "1650"))

    forged = await _post(device.webhook_url, body, headers)
    unsigned = await _post(device.webhook_url, body, {"Content-Type": "application/json"})

    assert (forged, unsigned) == (403, 401)
    device_pk = decode_id(device.id, "Device")
    assert await WebhookEvent.filter(device_id=device_pk).count() == 0
    assert await Message.filter(device_id=device_pk).count() == 0


async def test_malformed_json_with_a_valid_signature_is_a_400_not_a_500(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)
    body = b"{not json"
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, body)}

    status = await _post(device.webhook_url, body, headers)

    assert status == 400


async def test_a_webhook_delivered_twice_stores_the_message_once(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)
    wamid = f"wamid.DUP{uuid.uuid4().hex}"
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, "16505550102", wamid=wamid)
    )

    first = await _post(device.webhook_url, body, headers)
    second = await _post(device.webhook_url, body, headers)

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
    device = await _cloud_device(server, fake, owner)
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
    device = await _cloud_device(server, fake, owner)
    conversation_id = await _inbound(owner, fake, device, "16505550103")

    reply = await owner.api.data(
        SEND, {"input": {"conversationId": conversation_id, "text": "Hello from Parley"}}
    )

    message = reply["sendMessage"]["message"]
    assert message["status"] == "QUEUED"
    await _status_of(owner, message["id"], "READ")
    assert [s.body["text"]["body"] for s in fake.sends_to("16505550103")] == ["Hello from Parley"]


async def test_an_out_of_order_status_never_moves_a_message_backwards(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner, statuses=False)
    conversation_id = await _inbound(owner, fake, device, "16505550104")
    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "x"}})
    message_id = reply["sendMessage"]["message"]["id"]
    await _status_of(owner, message_id, "SENT")
    wamid = fake.sends_to("16505550104")[0].wamid

    for status in ("read", "delivered", "sent"):
        value = {"statuses": [{"id": wamid, "status": status, "timestamp": "1700000000"}]}
        body, headers = signed(APP_SECRET, webhook_envelope(device.phone_number_id, value))
        assert await _post(device.webhook_url, body, headers) == 200

    device_pk = decode_id(device.id, "Device")

    async def all_processed() -> bool:
        return await WebhookEvent.filter(device_id=device_pk, status="PROCESSED").count() == 4

    await eventually(all_processed)
    assert (await _status_of(owner, message_id, "READ"))["status"] == "READ"


async def test_a_status_for_an_unknown_message_id_is_kept_for_reconciliation(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)
    wamid = f"wamid.UNKNOWN{uuid.uuid4().hex}"
    value = {"statuses": [{"id": wamid, "status": "delivered", "timestamp": "1700000000"}]}
    body, headers = signed(APP_SECRET, webhook_envelope(device.phone_number_id, value))

    status = await _post(device.webhook_url, body, headers)

    assert status == 200

    async def kept() -> bool:
        return await UnmatchedStatus.exists(provider_message_id=wamid)

    await eventually(kept)


async def test_a_throughput_error_is_retried_and_the_message_is_sent(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)
    conversation_id = await _inbound(owner, fake, device, "16505550105")
    fake.fail_next(130429, to="16505550105")

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "y"}})

    await _status_of(owner, reply["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")
    attempts = fake.attempts_to("16505550105")
    assert [a.error_code for a in attempts] == [130429, None]
    assert len(fake.sends_to("16505550105")) == 1


async def test_an_undeliverable_message_fails_with_the_reason(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)
    conversation_id = await _inbound(owner, fake, device, "16505550106")
    fake.fail_next(131026, to="16505550106")

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "z"}})

    failed = await _status_of(owner, reply["sendMessage"]["message"]["id"], "FAILED")
    assert failed["errorCode"] == 131026
    assert "UNDELIVERABLE" in failed["errorMessage"]
    assert len(fake.attempts_to("16505550106")) == 1


async def test_an_undeliverable_status_webhook_fails_the_message_with_the_reason(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)
    conversation_id = await _inbound(owner, fake, device, "16505550107")
    fake.fail_status("16505550107", 131026)

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "w"}})

    failed = await _status_of(owner, reply["sendMessage"]["message"]["id"], "FAILED")
    assert failed["errorCode"] == 131026
    assert failed["errorMessage"]


async def test_an_expired_token_disconnects_the_device(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await _cloud_device(server, fake, owner)
    conversation_id = await _inbound(owner, fake, device, "16505550108")
    fake.fail_next(190, to="16505550108")

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "v"}})

    await _status_of(owner, reply["sendMessage"]["message"]["id"], "FAILED")
    assert (await owner.api.data(DEVICE, {"id": device.id}))["node"]["status"] == "DISCONNECTED"
