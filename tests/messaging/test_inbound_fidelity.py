"""Every message and event Meta sends is kept, shown and acted on (issue 24).

Real-shaped Cloud API deliveries (written from docs/CLOUD_API.md, Meta's documentation and
pywa's test data) are posted signed to a CLOUD_API device; GraphQL shows what was kept.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from app.messaging import deliveries
from app.models.messaging import WebhookEvent
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi, signed, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, CloudDevice, cloud_device, fake, post
from tests.support.messaging import Member, eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

CONVERSATIONS = """
query($deviceId: ID) {
  conversations(deviceId: $deviceId, first: 3) {
    nodes {
      id
      contact { phoneNumber name }
      messages(last: 20) { nodes { id type body payload direction status } }
    }
  }
}
"""


def wamid() -> str:
    return f"wamid.{uuid.uuid4().hex}"


def text_message(sender: str, body: str, **extra: Any) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    } | extra


async def deliver(device: CloudDevice, value: dict[str, Any]) -> int:
    body, headers = signed(APP_SECRET, webhook_envelope(device.phone_number_id, value))
    return await post(device.webhook_url, body, headers)


async def final_event(device: CloudDevice, within: float = 20) -> WebhookEvent:
    device_pk = decode_id(device.id, "Device")

    async def finished() -> WebhookEvent | None:
        return await WebhookEvent.filter(device_id=device_pk).exclude(status="RECEIVED").first()

    event: WebhookEvent = await eventually(finished, within=within)
    return event


async def conversations(owner: Member, device: CloudDevice) -> list[dict[str, Any]]:
    data = await owner.api.data(CONVERSATIONS, {"deviceId": device.id})
    nodes: list[dict[str, Any]] = data["conversations"]["nodes"]
    return nodes


async def test_one_unusable_message_of_ten_is_recorded_and_the_other_nine_are_stored(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    messages = [text_message("16505550111", f"message {n}") for n in range(10)]
    messages[4] = text_message("1" * 40, "from nobody")
    contacts = [{"profile": {"name": "Ana"}, "wa_id": "16505550111"}]

    assert await deliver(device, {"contacts": contacts, "messages": messages}) == 200

    event = await final_event(device)
    [conversation] = await conversations(owner, device)
    bodies = [m["body"] for m in conversation["messages"]["nodes"]]
    assert bodies == [f"message {n}" for n in range(10) if n != 4]
    assert event.status == "PARTIAL"
    [problem] = event.errors or []
    assert problem["where"] == "entry[0].changes[0].messages[4]"
    assert problem["id"] == messages[4]["id"]
    assert "`from`" in problem["reason"] and "not a WhatsApp id" in problem["reason"]
    assert event.error is not None and "messages[4]" in event.error


async def test_an_item_that_keeps_failing_ends_its_event_partial_after_the_last_try(
    server: RunningServer, api: Api, fake: FakeGraphApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    messages = [text_message("16505550112", f"message {n}") for n in range(3)]
    poisoned = messages[1]["id"]
    receive = deliveries.receive_inbound

    async def failing_on_one(settings: Any, broker: Any, device: Any, inbound: Any) -> Any:
        if inbound.provider_message_id == poisoned:  # a fault injected at the database edge
            raise RuntimeError("the database refused the row")
        return await receive(settings, broker, device, inbound)

    monkeypatch.setattr(deliveries, "receive_inbound", failing_on_one)

    assert await deliver(device, {"messages": messages}) == 200

    event = await final_event(device, within=30)
    [conversation] = await conversations(owner, device)
    assert [m["body"] for m in conversation["messages"]["nodes"]] == ["message 0", "message 2"]
    assert event.status == "PARTIAL"
    assert event.errors == [
        {
            "where": "entry[0].changes[0].messages[1]",
            "id": poisoned,
            "reason": "RuntimeError: the database refused the row",
        }
    ]


async def test_a_delivery_of_nothing_but_unusable_items_ends_failed_with_the_reasons(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    bad = [
        text_message("+1 650", "a spelled-out number"),
        {"id": wamid(), "status": "delivered", "timestamp": "soon"},
    ]

    assert await deliver(device, {"messages": bad[:1], "statuses": bad[1:]}) == 200

    event = await final_event(device)
    assert event.status == "FAILED"
    assert [p["where"] for p in event.errors or []] == [
        "entry[0].changes[0].messages[0]",
        "entry[0].changes[0].statuses[0]",
    ]
    assert "bad timestamp" in (event.errors or [])[1]["reason"]
    assert await conversations(owner, device) == []
