"""sendMessage beyond text and templates: media, reactions, buttons and lists."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.models.messaging import Message
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import cloud_device, fake, inbound, status_of
from tests.support.messaging import (
    Member,
    member,
    sandbox_device,
    simulate,
    unique_phone,
)
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id type body payload status }
    userErrors { field message code }
  }
}
"""
LATEST_INBOUND = """
query($id: ID!) {
  node(id: $id) { ... on Conversation { messages(last: 1) { nodes { id } } } }
}
"""
PNG = "https://example.com/photo.png"
BUTTONS = {
    "body": "Did this answer your question?",
    "footer": "Support",
    "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
}
LIST = {
    "body": "Pick a time",
    "header": "Appointments",
    "listButton": "Times",
    "sections": [
        {"title": "Morning", "rows": [{"id": "9", "title": "9:00", "description": "Dr. Ana"}]},
        {"title": "Afternoon", "rows": [{"id": "14", "title": "14:00"}]},
    ],
}


async def _send(who: Member, conversation_id: str, **content: Any) -> dict[str, Any]:
    data = await who.api.data(SEND, {"input": {"conversationId": conversation_id, **content}})
    result: dict[str, Any] = data["sendMessage"]
    return result


async def test_media_by_link_and_by_id_go_to_meta_as_the_contract_says(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550501")
    contents = [
        {"kind": "IMAGE", "link": PNG, "caption": "Your receipt"},
        {"kind": "DOCUMENT", "mediaId": "1013859600285441", "filename": "invoice.pdf"},
        {"kind": "AUDIO", "link": "https://example.com/note.ogg"},
        {"kind": "VIDEO", "mediaId": "2223334445", "caption": "How to"},
    ]

    sent = [await _send(owner, conversation_id, media=media) for media in contents]

    for result in sent:
        assert result["userErrors"] == []
        await status_of(owner, result["message"]["id"], "SENT", "DELIVERED", "READ")
    bodies = [(s.type, s.body[s.type]) for s in fake.sends_to("16505550501")]
    assert bodies == [
        ("image", {"link": PNG, "caption": "Your receipt"}),
        ("document", {"id": "1013859600285441", "filename": "invoice.pdf"}),
        ("audio", {"link": "https://example.com/note.ogg"}),
        ("video", {"id": "2223334445", "caption": "How to"}),
    ]
    stored = [(r["message"]["type"], r["message"]["body"]) for r in sent]
    assert stored == [
        ("IMAGE", "Your receipt"),
        ("DOCUMENT", "invoice.pdf"),
        ("AUDIO", None),
        ("VIDEO", "How to"),
    ]


async def test_a_reaction_goes_to_meta_pointing_at_the_customers_message(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550502")
    latest = (await owner.api.data(LATEST_INBOUND, {"id": conversation_id}))["node"]
    message_id = latest["messages"]["nodes"][0]["id"]
    wamid = (await Message.get(id=decode_id(message_id, "Message"))).provider_message_id

    sent = await _send(owner, conversation_id, reaction={"messageId": message_id, "emoji": "👍"})
    removed = await _send(owner, conversation_id, reaction={"messageId": message_id, "emoji": ""})

    assert (sent["message"]["type"], sent["message"]["body"]) == ("REACTION", "👍")
    assert removed["message"]["body"] is None
    await status_of(owner, removed["message"]["id"], "SENT", "DELIVERED", "READ")
    await status_of(owner, sent["message"]["id"], "SENT", "DELIVERED", "READ")
    reactions = [s.body["reaction"] for s in fake.sends_to("16505550502")]
    assert sorted(reactions, key=lambda r: r["emoji"]) == [
        {"message_id": wamid, "emoji": ""},
        {"message_id": wamid, "emoji": "👍"},
    ]


async def test_reply_buttons_and_lists_go_to_meta_as_interactive_messages(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550503")

    buttons = await _send(owner, conversation_id, interactive=BUTTONS)
    listing = await _send(owner, conversation_id, interactive=LIST)

    for result in (buttons, listing):
        assert result["userErrors"] == []
        assert result["message"]["type"] == "INTERACTIVE"
        await status_of(owner, result["message"]["id"], "SENT", "DELIVERED", "READ")
    assert buttons["message"]["body"] == "Did this answer your question?"
    sent = {s.body["interactive"]["type"]: s.body["interactive"] for s in fake.sends}
    assert sent["button"] == {
        "type": "button",
        "body": {"text": "Did this answer your question?"},
        "footer": {"text": "Support"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "no", "title": "No"}},
            ]
        },
    }
    assert sent["list"]["header"] == {"type": "text", "text": "Appointments"}
    assert sent["list"]["action"] == {
        "button": "Times",
        "sections": [
            {"title": "Morning", "rows": [{"id": "9", "title": "9:00", "description": "Dr. Ana"}]},
            {"title": "Afternoon", "rows": [{"id": "14", "title": "14:00"}]},
        ],
    }


async def test_a_location_goes_to_meta_with_its_name_and_address(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550504")
    shop = {"latitude": 38.7223, "longitude": -9.1393, "name": "Our shop", "address": "Rua A 1"}

    sent = await _send(owner, conversation_id, location=shop)

    assert (sent["message"]["type"], sent["message"]["body"]) == ("LOCATION", "Our shop")
    await status_of(owner, sent["message"]["id"], "SENT", "DELIVERED", "READ")
    [send] = fake.sends_to("16505550504")
    assert (send.type, send.body["location"]) == ("location", shop)


async def test_the_sandbox_carries_media_reactions_and_lists_to_read(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = await simulate(owner, device_id, unique_phone(), "Hello")
    conversation_id = customer["conversation"]["id"]

    results = [
        await _send(owner, conversation_id, media={"kind": "STICKER", "mediaId": "789"}),
        await _send(owner, conversation_id, reaction={"messageId": customer["id"], "emoji": "❤️"}),
        await _send(owner, conversation_id, interactive=LIST),
    ]

    assert [r["userErrors"] for r in results] == [[], [], []]
    for result in results:
        await status_of(owner, result["message"]["id"], "READ")


@pytest.mark.parametrize(
    ("content", "field", "code"),
    [
        ({"media": {"kind": "IMAGE"}}, ["input", "media"], "INVALID"),
        ({"media": {"kind": "IMAGE", "link": PNG, "mediaId": "1"}}, ["input", "media"], "INVALID"),
        (
            {"media": {"kind": "IMAGE", "link": "ftp://x/y.png"}},
            ["input", "media", "link"],
            "INVALID",
        ),
        (
            {"media": {"kind": "AUDIO", "link": PNG, "caption": "Hi"}},
            ["input", "media", "caption"],
            "INVALID",
        ),
        (
            {"media": {"kind": "IMAGE", "link": PNG, "filename": "a.png"}},
            ["input", "media", "filename"],
            "INVALID",
        ),
        (
            {"media": {"kind": "IMAGE", "link": PNG, "caption": "x" * 1025}},
            ["input", "media", "caption"],
            "INVALID",
        ),
        (
            {
                "interactive": {
                    "body": "Pick",
                    "buttons": [{"id": str(i), "title": "B"} for i in range(4)],
                }
            },
            ["input", "interactive", "buttons"],
            "INVALID",
        ),
        (
            {
                "interactive": {
                    "body": "Pick",
                    "buttons": [{"id": "a", "title": "A title that is too long"}],
                }
            },
            ["input", "interactive", "buttons", "0", "title"],
            "INVALID",
        ),
        (
            {"interactive": {"body": "Pick", "sections": LIST["sections"]}},
            ["input", "interactive", "listButton"],
            "REQUIRED",
        ),
        (
            {
                "interactive": LIST
                | {"sections": [{"title": "A", "rows": []}, {"title": "B", "rows": []}]}
            },
            ["input", "interactive", "sections"],
            "INVALID",
        ),
        ({"interactive": {"body": "Pick"}}, ["input", "interactive"], "INVALID"),
        (
            {"location": {"latitude": 91.0, "longitude": 0.0}},
            ["input", "location", "latitude"],
            "INVALID",
        ),
        (
            {"interactive": {"body": " ", "buttons": BUTTONS["buttons"]}},
            ["input", "interactive", "body"],
            "REQUIRED",
        ),
        ({"text": "Hi", "media": {"kind": "IMAGE", "link": PNG}}, ["input", "media"], "INVALID"),
        (
            {"reaction": {"messageId": "UNKNOWN", "emoji": "👍"}},
            ["input", "reaction", "messageId"],
            "NOT_FOUND",
        ),
        (
            {"reaction": {"messageId": "OWN", "emoji": "not one emoji at all"}},
            ["input", "reaction", "emoji"],
            "INVALID",
        ),
    ],
)
async def test_a_message_meta_would_refuse_is_a_user_error_naming_the_field(
    server: RunningServer,
    api: Api,
    content: dict[str, Any],
    field: list[str],
    code: str,
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = await simulate(owner, device_id, unique_phone(), "Hello")
    conversation_id = customer["conversation"]["id"]
    if "reaction" in content:
        own = content["reaction"]["messageId"] == "OWN"
        target = customer["id"] if own else await _foreign_message(server, api)
        content = {"reaction": content["reaction"] | {"messageId": target}}

    result = await _send(owner, conversation_id, **content)

    assert result["message"] is None
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(field, code)]
    assert (
        await Message.filter(conversation_id=decode_id(conversation_id, "Conversation")).count()
        == 1
    )


async def _foreign_message(server: RunningServer, api: Api) -> str:
    """A message of another organization: for this one, it does not exist."""
    stranger = await member(server, api)
    device_id = await sandbox_device(stranger)
    message: dict[str, Any] = await simulate(stranger, device_id, unique_phone(), "Not yours")
    return str(message["id"])


async def test_media_outside_the_service_window_needs_a_template(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)

    data = await owner.api.data(
        SEND,
        {
            "input": {
                "deviceId": device_id,
                "to": unique_phone(),
                "media": {"kind": "IMAGE", "link": PNG},
            }
        },
    )

    [error] = data["sendMessage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "media"], "CONFLICT")
    assert "template" in error["message"]


async def test_a_reaction_to_a_message_that_never_reached_whatsapp_is_refused(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    conversation_id = await inbound(owner, fake, device, f"1650555{uuid.uuid4().int % 10000:04d}")
    fake.fail_next(131026)
    reply = await _send(owner, conversation_id, text="On it")
    await status_of(owner, reply["message"]["id"], "FAILED")

    reaction = await _send(
        owner, conversation_id, reaction={"messageId": reply["message"]["id"], "emoji": "👍"}
    )

    [error] = reaction["userErrors"]
    assert (error["field"], error["code"]) == (["input", "reaction", "messageId"], "CONFLICT")
