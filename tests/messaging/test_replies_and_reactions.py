"""Quoted replies and reactions, both ways: a reply carries Meta's `context` and links to the
message it quotes; a reaction attaches to its message instead of standing as one."""

from __future__ import annotations

import time
import uuid
from typing import Any

from app.models.accounts import Role
from app.models.messaging import Message, WebhookEvent
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
from tests.support.messaging import Member, eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id type body status replyTo { id body } }
    userErrors { field message code }
  }
}
"""
REACT = """
mutation($input: ReactToMessageInput!) {
  reactToMessage(input: $input) {
    message { id reactions { emoji direction createdAt } }
    userErrors { field message code }
  }
}
"""
THREAD = """
query($id: ID!) {
  node(id: $id) {
    ... on Conversation {
      messages(last: 20) {
        nodes { id type body direction replyTo { id body } reactions { emoji direction } }
      }
    }
  }
}
"""


def _wamid() -> str:
    return f"wamid.{uuid.uuid4().hex}"


async def _deliver(device: CloudDevice, sender: str, message: dict[str, Any]) -> None:
    item = {"from": sender, "id": _wamid(), "timestamp": str(int(time.time()))} | message
    body, headers = signed(
        APP_SECRET, webhook_envelope(device.phone_number_id, {"messages": [item]})
    )
    assert await post(device.webhook_url, body, headers) == 200


async def _thread(who: Member, conversation_id: str) -> list[dict[str, Any]]:
    data = await who.api.data(THREAD, {"id": conversation_id})
    nodes: list[dict[str, Any]] = data["node"]["messages"]["nodes"]
    return nodes


async def _wamid_of(message_id: str) -> str:
    wamid = (await Message.get(id=decode_id(message_id, "Message"))).provider_message_id
    assert wamid is not None
    return wamid


async def _customer_conversation(
    server: RunningServer, api: Api, fake: FakeGraphApi, wa_id: str
) -> tuple[Member, CloudDevice, str, dict[str, Any]]:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, wa_id)
    [first] = await _thread(owner, conversation_id)
    return owner, device, conversation_id, first


async def test_a_reply_sends_metas_context_and_links_to_the_quoted_message(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner, _, conversation_id, customer = await _customer_conversation(
        server, api, fake, "16505550601"
    )

    data = await owner.api.data(
        SEND,
        {
            "input": {
                "conversationId": conversation_id,
                "text": "About that:",
                "replyToMessageId": customer["id"],
            }
        },
    )

    sent = data["sendMessage"]
    assert sent["userErrors"] == []
    assert sent["message"]["replyTo"] == {"id": customer["id"], "body": "Hi there"}
    await status_of(owner, sent["message"]["id"], "SENT", "DELIVERED", "READ")
    [send] = fake.sends_to("16505550601")
    assert send.body["context"] == {"message_id": await _wamid_of(customer["id"])}


async def test_a_customers_quoted_reply_links_to_the_message_it_quotes(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner, device, conversation_id, _ = await _customer_conversation(
        server, api, fake, "16505550602"
    )
    sent = (
        await owner.api.data(
            SEND, {"input": {"conversationId": conversation_id, "text": "Your order shipped"}}
        )
    )["sendMessage"]["message"]
    await status_of(owner, sent["id"], "SENT", "DELIVERED", "READ")
    quoted = {"from": "16505550602", "id": await _wamid_of(sent["id"])}

    await _deliver(
        device, "16505550602", {"type": "text", "text": {"body": "Thanks!"}, "context": quoted}
    )

    async def reply() -> dict[str, Any] | None:
        thread = await _thread(owner, conversation_id)
        return next((m for m in thread if m["body"] == "Thanks!"), None)

    found = await eventually(reply)
    assert found["replyTo"] == {"id": sent["id"], "body": "Your order shipped"}


async def test_a_customers_reaction_attaches_to_its_message_and_an_empty_emoji_removes_it(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner, device, conversation_id, _ = await _customer_conversation(
        server, api, fake, "16505550603"
    )
    sent = (
        await owner.api.data(
            SEND, {"input": {"conversationId": conversation_id, "text": "Here is your code"}}
        )
    )["sendMessage"]["message"]
    await status_of(owner, sent["id"], "SENT", "DELIVERED", "READ")
    target = await _wamid_of(sent["id"])

    await _deliver(
        device,
        "16505550603",
        {"type": "reaction", "reaction": {"message_id": target, "emoji": "👍"}},
    )

    async def reacted() -> list[dict[str, Any]] | None:
        thread = await _thread(owner, conversation_id)
        mine = next(m for m in thread if m["id"] == sent["id"])
        return thread if mine["reactions"] else None

    thread = await eventually(reacted)
    assert [m["type"] for m in thread] == ["TEXT", "TEXT"]  # no REACTION message of its own
    assert next(m for m in thread if m["id"] == sent["id"])["reactions"] == [
        {"emoji": "👍", "direction": "INBOUND"}
    ]

    await _deliver(
        device, "16505550603", {"type": "reaction", "reaction": {"message_id": target, "emoji": ""}}
    )

    async def removed() -> bool:
        thread = await _thread(owner, conversation_id)
        return next(m for m in thread if m["id"] == sent["id"])["reactions"] == []

    await eventually(removed)
    # A late copy of an older reaction does not bring it back.
    older = {"from": "16505550603", "id": _wamid(), "timestamp": str(int(time.time()) - 60)}
    body, headers = signed(
        APP_SECRET,
        webhook_envelope(
            device.phone_number_id,
            {
                "messages": [
                    older | {"type": "reaction", "reaction": {"message_id": target, "emoji": "😡"}}
                ]
            },
        ),
    )
    assert await post(device.webhook_url, body, headers) == 200
    await _settled(device)
    assert (
        next(m for m in await _thread(owner, conversation_id) if m["id"] == sent["id"])["reactions"]
        == []
    )


async def _settled(device: CloudDevice) -> None:
    device_pk = decode_id(device.id, "Device")

    async def done() -> bool:
        return not await WebhookEvent.exists(device_id=device_pk, status="RECEIVED")

    await eventually(done)


async def test_react_to_message_sends_a_reaction_that_shows_on_the_message_once_per_direction(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner, _, conversation_id, customer = await _customer_conversation(
        server, api, fake, "16505550604"
    )
    agent = await member(server, api, Role.AGENT, owner.organization_id)

    first = await agent.api.data(REACT, {"input": {"messageId": customer["id"], "emoji": "❤️"}})
    second = await agent.api.data(REACT, {"input": {"messageId": customer["id"], "emoji": "🙏"}})

    assert first["reactToMessage"]["userErrors"] == []
    assert first["reactToMessage"]["message"]["reactions"][0]["emoji"] == "❤️"
    assert [
        (r["emoji"], r["direction"]) for r in second["reactToMessage"]["message"]["reactions"]
    ] == [("🙏", "OUTBOUND")]
    wamid = await _wamid_of(customer["id"])

    async def both_sent() -> bool:
        return len(fake.sends_to("16505550604")) == 2

    await eventually(both_sent)
    assert sorted(s.body["reaction"]["emoji"] for s in fake.sends_to("16505550604")) == [
        "❤️",
        "🙏",
    ]
    assert {s.body["reaction"]["message_id"] for s in fake.sends_to("16505550604")} == {wamid}
    thread = await _thread(owner, conversation_id)
    assert [(m["type"], m["reactions"]) for m in thread] == [
        ("TEXT", [{"emoji": "🙏", "direction": "OUTBOUND"}])
    ]


async def test_reactions_and_replies_are_refused_across_organizations_and_to_viewers(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner, _, conversation_id, customer = await _customer_conversation(
        server, api, fake, "16505550605"
    )
    stranger = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    other = await _customer_conversation(server, api, fake, "16505550606")

    foreign = await stranger.api.data(
        REACT, {"input": {"messageId": customer["id"], "emoji": "👍"}}
    )
    refused = await viewer.api.call(REACT, {"input": {"messageId": customer["id"], "emoji": "👍"}})
    elsewhere = await owner.api.data(
        SEND,
        {
            "input": {
                "conversationId": conversation_id,
                "text": "Quoting another thread",
                "replyToMessageId": other[3]["id"],
            }
        },
    )

    [error] = foreign["reactToMessage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "messageId"], "NOT_FOUND")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    [error] = elsewhere["sendMessage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "replyToMessageId"], "NOT_FOUND")
    assert await _thread(viewer, conversation_id) == [
        {
            "id": customer["id"],
            "type": "TEXT",
            "body": "Hi there",
            "direction": "INBOUND",
            "replyTo": None,
            "reactions": [],
        }
    ]
