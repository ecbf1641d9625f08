"""Every message and event Meta sends is kept, shown and acted on (issue 24).

Real-shaped Cloud API deliveries (written from docs/CLOUD_API.md, Meta's documentation and
pywa's test data) are posted signed to a CLOUD_API device; GraphQL shows what was kept.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.messaging import deliveries
from app.models.messaging import WebhookEvent
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi, signed, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import (
    APP_SECRET,
    CloudDevice,
    cloud_device,
    fake,
    inbound,
    post,
    status_of,
)
from tests.support.messaging import SEND, Member, eventually, member
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


FLOW_RESPONSE = '{"delivery_rating":"4","flow_token":"AQAAAAACS5FpgQ_cAAAAAD0QI3s."}'
AD = {
    "source_url": "https://fb.me/ad",
    "source_id": "ADID",
    "source_type": "ad",
    "headline": "Spring sale",
    "body": "Half price",
    "media_type": "image",
    "image_url": "https://example.com/ad.jpg",
    "ctwa_clid": "CTWA_CLID",
}
# (message object as Meta sends it, type, body, payload) — shapes from Meta's docs and pywa.
KINDS: list[tuple[dict[str, Any], str, str, dict[str, Any]]] = [
    (
        {"type": "location", "location": {"latitude": 12.25089, "longitude": 43.90539}},
        "LOCATION",
        "12.250890, 43.905390",
        {"latitude": 12.25089, "longitude": 43.90539},
    ),
    (
        {
            "type": "location",
            "location": {
                "latitude": 37.4611978,
                "longitude": -122.2164385,
                "name": "Facebook HQ",
                "address": "1 Hacker Way, Menlo Park, CA 94025",
                "url": "https://maps.google.com/?cid=2000",
            },
            "context": {"forwarded": True},
        },
        "LOCATION",
        "Facebook HQ",
        {
            "latitude": 37.4611978,
            "longitude": -122.2164385,
            "name": "Facebook HQ",
            "address": "1 Hacker Way, Menlo Park, CA 94025",
            "url": "https://maps.google.com/?cid=2000",
            "forwarded": True,
        },
    ),
    (
        {
            "type": "contacts",
            "contacts": [
                {
                    "name": {"first_name": "Chandler", "formatted_name": "Chandler Bing"},
                    "phones": [
                        {"phone": "+1 555-555-5555", "wa_id": "15555555555", "type": "CELL"}
                    ],
                },
                {"name": {"first_name": "Monica", "formatted_name": "Monica"}},
            ],
        },
        "CONTACTS",
        "Chandler Bing, Monica",
        {
            "contacts": [
                {
                    "name": {"first_name": "Chandler", "formatted_name": "Chandler Bing"},
                    "phones": [
                        {"phone": "+1 555-555-5555", "wa_id": "15555555555", "type": "CELL"}
                    ],
                },
                {"name": {"first_name": "Monica", "formatted_name": "Monica"}},
            ]
        },
    ),
    (
        {
            "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "row-2", "title": "Tuesday", "description": "9-12"},
            },
            "context": {"from": "15550001111", "id": "wamid.menu"},
        },
        "INTERACTIVE",
        "Tuesday",
        {
            "reply": {
                "type": "list_reply",
                "id": "row-2",
                "title": "Tuesday",
                "description": "9-12",
            },
            "quoted_message_id": "wamid.menu",
        },
    ),
    (
        {"type": "button", "button": {"payload": "STOP_PROMOS", "text": "Stop promotions"}},
        "INTERACTIVE",
        "Stop promotions",
        {"reply": {"type": "quick_reply", "id": "STOP_PROMOS", "title": "Stop promotions"}},
    ),
    (
        {
            "type": "interactive",
            "interactive": {
                "type": "nfm_reply",
                "nfm_reply": {"response_json": FLOW_RESPONSE, "body": "Sent", "name": "flow"},
            },
        },
        "INTERACTIVE",
        "Sent",
        {
            "flow_reply": {
                "name": "flow",
                "body": "Sent",
                "response": {
                    "delivery_rating": "4",
                    "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
                },
                "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
            }
        },
    ),
    (
        {
            "type": "order",
            "order": {
                "catalog_id": "354160437058781",
                "text": "",
                "product_items": [
                    {
                        "product_retailer_id": "BURGER",
                        "quantity": 3,
                        "item_price": 30,
                        "currency": "ILS",
                    },
                    {
                        "product_retailer_id": "SODA",
                        "quantity": 2,
                        "item_price": 10,
                        "currency": "ILS",
                    },
                ],
            },
        },
        "ORDER",
        "Order: 5 items",
        {
            "catalog_id": "354160437058781",
            "items": [
                {
                    "product_retailer_id": "BURGER",
                    "quantity": 3,
                    "item_price": 30,
                    "currency": "ILS",
                },
                {"product_retailer_id": "SODA", "quantity": 2, "item_price": 10, "currency": "ILS"},
            ],
        },
    ),
    (
        {"type": "text", "text": {"body": "Is this still on?"}, "referral": AD},
        "TEXT",
        "Is this still on?",
        {"body": "Is this still on?", "referral": AD},
    ),
    (
        {
            "type": "audio",
            "audio": {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "m04p=",
                "id": "88",
                "voice": True,
            },
            "context": {"frequently_forwarded": True},
        },
        "AUDIO",
        "Voice message",
        {
            "id": "88",
            "mime_type": "audio/ogg; codecs=opus",
            "sha256": "m04p=",
            "voice": True,
            "frequently_forwarded": True,
        },
    ),
    (
        {
            "type": "document",
            "document": {"filename": "invoice.pdf", "mime_type": "application/pdf", "id": "99"},
        },
        "DOCUMENT",
        "invoice.pdf",
        {"id": "99", "mime_type": "application/pdf", "filename": "invoice.pdf"},
    ),
    (
        {"type": "sticker", "sticker": {"mime_type": "image/webp", "id": "77", "animated": False}},
        "STICKER",
        "Sticker",
        {"id": "77", "mime_type": "image/webp", "animated": False},
    ),
    (
        {"type": "reaction", "reaction": {"message_id": "wamid.out", "emoji": "\U0001f62e"}},
        "REACTION",
        "\U0001f62e",
        {"message_id": "wamid.out", "emoji": "\U0001f62e"},
    ),
    (
        {
            "type": "system",
            "system": {"body": "User identity changed", "type": "customer_identity_changed"},
            "identity": {"acknowledged": True, "hash": "xyz"},
        },
        "SYSTEM",
        "User identity changed",
        {"system": {"type": "customer_identity_changed", "body": "User identity changed"}},
    ),
    (
        {
            "type": "unsupported",
            "unsupported": {"type": "poll"},
            "errors": [
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."},
                }
            ],
        },
        "UNSUPPORTED",
        "Unsupported message",
        {
            "unsupported_type": "poll",
            "errors": [
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "details": "Message type is currently not supported.",
                }
            ],
        },
    ),
]


async def test_every_kind_of_inbound_message_shows_its_content_and_a_preview(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    sender = "16505550113"
    messages = [
        {"from": sender, "id": wamid(), "timestamp": str(int(time.time()))} | raw
        for raw, *_ in KINDS
    ]
    contacts = [{"profile": {"name": "Ana"}, "wa_id": sender}]

    assert await deliver(device, {"contacts": contacts, "messages": messages}) == 200

    event = await final_event(device)
    [conversation] = await conversations(owner, device)
    # The files' downloads are the media pipeline's (tests/media): these ids are unknown to the
    # fake, so a download that has run by now adds its `media_error`; the content is the same.
    shown = [
        (m["type"], m["body"], {k: v for k, v in m["payload"].items() if k != "media_error"})
        for m in conversation["messages"]["nodes"]
    ]
    assert (event.status, event.errors) == ("PROCESSED", [])
    assert shown == [(kind, body, payload) for _, kind, body, payload in KINDS]


MESSAGE = """
query($id: ID!) {
  node(id: $id) { ... on Message { body payload editedAt deletedAt } }
}
"""


async def deliver_and_wait(device: CloudDevice, value: dict[str, Any], events: int) -> None:
    device_pk = decode_id(device.id, "Device")
    assert await deliver(device, value) == 200

    async def done() -> bool:
        return await WebhookEvent.filter(device_id=device_pk, status="PROCESSED").count() == events

    await eventually(done)


async def test_an_edit_updates_the_message_and_a_revoke_deletes_its_content(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    sender = "16505550114"
    first, second = text_message(sender, "See you at 5"), text_message(sender, "my card: 4242")
    await deliver_and_wait(device, {"messages": [first, second]}, 1)
    edit = {
        "from": sender,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "edit",
        "edit": {
            "original_message_id": first["id"],
            "message": {"type": "text", "text": {"body": "See you at 6"}},
        },
    }
    revoke = {
        "from": sender,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "revoke",
        "revoke": {"original_message_id": second["id"]},
    }

    await deliver_and_wait(device, {"messages": [edit, revoke]}, 2)
    await deliver_and_wait(device, {"messages": [edit, revoke]}, 3)  # Meta delivers twice

    [conversation] = await conversations(owner, device)
    edited_id, deleted_id = [m["id"] for m in conversation["messages"]["nodes"]]
    edited = (await owner.api.data(MESSAGE, {"id": edited_id}))["node"]
    deleted = (await owner.api.data(MESSAGE, {"id": deleted_id}))["node"]
    assert edited["body"] == "See you at 6"
    assert edited["editedAt"] is not None and edited["deletedAt"] is None
    [earlier] = edited["payload"]["edits"]
    assert (earlier["body"], earlier["replaced_by"]) == ("See you at 5", edit["id"])
    assert (deleted["body"], deleted["payload"]) == (None, {})
    assert deleted["deletedAt"] is not None


async def test_a_number_change_moves_the_contact_and_keeps_one_conversation(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    old, new = "16505550115", "16505550116"
    await deliver_and_wait(device, {"messages": [text_message(old, "from my old phone")]}, 1)
    change = {
        "from": old,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "system",
        "system": {
            "body": f"User A changed from {old} to {new}",
            "wa_id": new,
            "type": "user_changed_number",
        },
    }

    await deliver_and_wait(device, {"messages": [change]}, 2)
    await deliver_and_wait(device, {"messages": [text_message(new, "new phone, same me")]}, 3)

    [conversation] = await conversations(owner, device)
    assert conversation["contact"]["phoneNumber"] == f"+{new}"
    assert [(m["type"], m["body"]) for m in conversation["messages"]["nodes"]] == [
        ("TEXT", "from my old phone"),
        ("SYSTEM", f"User A changed from {old} to {new}"),
        ("TEXT", "new phone, same me"),
    ]


DETAILS = """
query($id: ID!) { node(id: $id) { ... on Message { status deliveryDetails } } }
"""


async def test_status_details_are_kept_pricing_conversation_played_and_failure(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    customer = "16505550117"
    conversation_id = await inbound(owner, fake, device, customer)
    sent = []
    for text in ("voice note", "to a number in an experiment"):
        reply = await owner.api.data(
            SEND, {"input": {"conversationId": conversation_id, "text": text}}
        )
        sent.append(reply["sendMessage"]["message"]["id"])
        await status_of(owner, sent[-1], "SENT")
    first, second = (send.wamid for send in fake.sends_to(customer))
    now = int(time.time())
    statuses = [
        {
            "id": first,
            "status": "delivered",
            "timestamp": str(now),
            "recipient_id": customer,
            "conversation": {
                "id": "7270432eae",
                "expiration_timestamp": str(now + 86400),
                "origin": {"type": "service"},
            },
            "pricing": {"billable": False, "pricing_model": "PMP", "category": "service"},
        },
        {"id": first, "status": "played", "timestamp": str(now + 5), "recipient_id": customer},
        {
            "id": second,
            "status": "failed",
            "timestamp": str(now),
            "recipient_id": customer,
            "errors": [
                {
                    "code": 130472,
                    "title": "User's number is part of an experiment",
                    "message": "User's number is part of an experiment",
                    "error_data": {"details": "Failed to send message: an experiment"},
                    "href": "https://developers.facebook.com/docs/whatsapp/error-codes/",
                }
            ],
        },
    ]

    await deliver_and_wait(device, {"statuses": statuses}, 2)

    played = (await owner.api.data(DETAILS, {"id": sent[0]}))["node"]
    failed = (await owner.api.data(DETAILS, {"id": sent[1]}))["node"]
    assert played["status"] == "READ"
    assert played["deliveryDetails"] == {
        "pricing": {"category": "service", "billable": False, "pricing_model": "PMP"},
        "conversation": {
            "id": "7270432eae",
            "origin": "service",
            "expires_at": datetime.fromtimestamp(now + 86400, tz=UTC).isoformat(),
        },
        "played_at": datetime.fromtimestamp(now + 5, tz=UTC).isoformat(),
    }
    assert failed["status"] == "FAILED"
    assert failed["deliveryDetails"]["failure"] == {
        "code": 130472,
        "title": "User's number is part of an experiment",
        "message": "User's number is part of an experiment",
        "details": "Failed to send message: an experiment",
        "href": "https://developers.facebook.com/docs/whatsapp/error-codes/",
    }


async def deliver_field(device: CloudDevice, field: str, value: dict[str, Any]) -> int:
    payload = webhook_envelope(device.phone_number_id, value)
    payload["entry"][0]["changes"][0]["field"] = field
    body, headers = signed(APP_SECRET, payload)
    return await post(device.webhook_url, body, headers)


CONTACT = "query($id: ID!) { node(id: $id) { ... on Conversation { contact { optedOut } } } }"


async def test_stopping_and_resuming_marketing_in_whatsapp_opts_the_contact_out_and_in(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    customer = "16505550118"
    conversation_id = await inbound(owner, fake, device, customer)
    device_pk = decode_id(device.id, "Device")

    async def opted_out_after(value: str, events: int) -> bool:
        preference = {
            "wa_id": customer,
            "detail": f"User requested to {value} marketing messages",
            "category": "marketing_messages",
            "value": value,
            "timestamp": int(time.time()),
        }
        assert (
            await deliver_field(device, "user_preferences", {"user_preferences": [preference]})
            == 200
        )

        async def done() -> bool:
            return (
                await WebhookEvent.filter(device_id=device_pk, status="PROCESSED").count() == events
            )

        await eventually(done)
        node = (await owner.api.data(CONTACT, {"id": conversation_id}))["node"]
        return bool(node["contact"]["optedOut"])

    assert await opted_out_after("stop", 2) is True
    assert await opted_out_after("resume", 3) is False


async def test_a_reply_typed_in_the_business_app_is_an_outbound_message_of_the_conversation(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    customer = "16505550119"
    await inbound(owner, fake, device, customer)
    echo = {
        "from": "15550001111",
        "to": customer,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "Typed on my phone"},
    }

    for _ in range(2):  # Meta may deliver it twice
        assert await deliver_field(device, "smb_message_echoes", {"message_echoes": [echo]}) == 200
    await eventually(lambda: _processed(device, 3))

    [conversation] = await conversations(owner, device)
    assert [
        (m["direction"], m["body"], m["status"]) for m in conversation["messages"]["nodes"]
    ] == [
        ("INBOUND", "Hi there", "RECEIVED"),
        ("OUTBOUND", "Typed on my phone", "SENT"),
    ]
    assert conversation["messages"]["nodes"][1]["payload"] == {
        "body": "Typed on my phone",
        "source": "business_app",
    }


async def _processed(device: CloudDevice, events: int) -> bool:
    device_pk = decode_id(device.id, "Device")
    return await WebhookEvent.filter(device_id=device_pk, status="PROCESSED").count() == events
