from __future__ import annotations

from typing import Any

from app.models.messaging import (
    Contact,
    Conversation,
    Device,
    Direction,
    Message,
    MessageStatus,
    Provider,
)
from app.platform.ids import to_global_id
from tests.support.client import Api
from tests.support.messaging import Member, member, unique_phone
from tests.support.server import RunningServer

INBOX = """
query($first: Int!) {
  conversations(first: $first) {
    edges {
      node {
        id
        contact { phoneNumber }
        device { name }
        lastMessage { body }
        messages(last: 5) {
          edges { node { body } }
          pageInfo { hasPreviousPage startCursor }
        }
      }
    }
  }
}
"""
MESSAGES = """
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  node(id: $id) {
    ... on Conversation {
      messages(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { body } }
        pageInfo { hasNextPage hasPreviousPage }
      }
    }
  }
}
"""
MESSAGE = "query($id: ID!) { node(id: $id) { ... on Message { body } } }"


async def _conversation(who: Member, device: Device, messages: int) -> Conversation:
    contact = await Contact.create(organization_id=who.organization_id, phone_number=unique_phone())
    conversation = await Conversation.create(
        organization_id=who.organization_id, device_id=device.id, contact_id=contact.id
    )
    for n in range(1, messages + 1):
        await Message.create(
            organization_id=who.organization_id,
            conversation_id=conversation.id,
            device_id=device.id,
            direction=Direction.INBOUND,
            status=MessageStatus.RECEIVED,
            body=f"{conversation.id}-{n}",
        )
    return conversation


async def _device(who: Member, name: str) -> Device:
    return await Device.create(
        organization_id=who.organization_id,
        name=name,
        phone_number=unique_phone(),
        provider=Provider.SANDBOX,
    )


def _bodies(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["body"] for edge in connection["edges"]]


async def test_the_inbox_reads_each_conversations_latest_messages_oldest_first(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device = await _device(owner, "Support")
    long = await _conversation(owner, device, messages=12)
    short = await _conversation(owner, device, messages=3)
    empty = await _conversation(owner, device, messages=0)

    data = await owner.api.data(INBOX, {"first": 10})

    nodes = [edge["node"] for edge in data["conversations"]["edges"]]
    assert [node["id"] for node in nodes] == [
        to_global_id("Conversation", c.id) for c in (long, short, empty)
    ]
    assert [node["device"]["name"] for node in nodes] == ["Support"] * 3
    assert len({node["contact"]["phoneNumber"] for node in nodes}) == 3
    assert _bodies(nodes[0]["messages"]) == [f"{long.id}-{n}" for n in range(8, 13)]
    assert nodes[0]["messages"]["pageInfo"]["hasPreviousPage"] is True
    assert _bodies(nodes[1]["messages"]) == [f"{short.id}-{n}" for n in range(1, 4)]
    assert nodes[1]["messages"]["pageInfo"]["hasPreviousPage"] is False
    assert _bodies(nodes[2]["messages"]) == []
    assert [node["lastMessage"] for node in nodes] == [
        {"body": f"{long.id}-12"},
        {"body": f"{short.id}-3"},
        None,
    ]


async def test_message_pages_go_back_with_before_and_forward_with_after(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device = await _device(owner, "Sales")
    conversation = await _conversation(owner, device, messages=12)
    conversation_id = to_global_id("Conversation", conversation.id)
    latest = await owner.api.data(MESSAGES, {"id": conversation_id, "last": 5})
    start = latest["node"]["messages"]["edges"][0]["cursor"]

    earlier = await owner.api.data(MESSAGES, {"id": conversation_id, "last": 5, "before": start})
    first = await owner.api.data(MESSAGES, {"id": conversation_id, "first": 4})
    after = first["node"]["messages"]["edges"][-1]["cursor"]
    following = await owner.api.data(MESSAGES, {"id": conversation_id, "first": 4, "after": after})

    body = f"{conversation.id}-"
    assert _bodies(earlier["node"]["messages"]) == [f"{body}{n}" for n in range(3, 8)]
    assert earlier["node"]["messages"]["pageInfo"]["hasPreviousPage"] is True
    assert _bodies(first["node"]["messages"]) == [f"{body}{n}" for n in range(1, 5)]
    assert first["node"]["messages"]["pageInfo"]["hasNextPage"] is True
    assert _bodies(following["node"]["messages"]) == [f"{body}{n}" for n in range(5, 9)]


async def test_the_inbox_and_nodes_show_nothing_of_another_organization(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    theirs = await _conversation(stranger, await _device(stranger, "Theirs"), messages=2)
    mine = await _conversation(owner, await _device(owner, "Mine"), messages=1)
    their_message = await Message.filter(conversation_id=theirs.id).first()
    assert their_message is not None

    inbox = await owner.api.data(INBOX, {"first": 10})
    conversation = await owner.api.data(
        MESSAGES, {"id": to_global_id("Conversation", theirs.id), "last": 5}
    )
    message = await owner.api.data(MESSAGE, {"id": to_global_id("Message", their_message.id)})

    assert [edge["node"]["id"] for edge in inbox["conversations"]["edges"]] == [
        to_global_id("Conversation", mine.id)
    ]
    assert conversation["node"] is None
    assert message["node"] is None
