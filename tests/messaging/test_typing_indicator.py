"""sendTypingIndicator: Meta marks the customer's latest message read and shows "typing…"."""

from __future__ import annotations

from app.models.accounts import Role
from app.models.messaging import Direction, Message
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import cloud_device, fake, inbound
from tests.support.messaging import (
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
)
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

TYPING = """
mutation($input: ConversationIdInput!) {
  sendTypingIndicator(input: $input) { conversation { id } userErrors { field message code } }
}
"""
HELLO = {"name": "hello_world", "language": "en_US"}
SEND_TO = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { conversation { id } } userErrors { message } }
}
"""


async def test_typing_shows_under_the_customers_latest_message_at_meta(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550142")
    customer = await Message.get(
        conversation_id=decode_id(conversation_id, "Conversation"), direction=Direction.INBOUND
    )
    agent = await member(server, api, role=Role.AGENT, organization_id=owner.organization_id)
    viewer = await member(server, api, role=Role.VIEWER, organization_id=owner.organization_id)

    shown = await agent.api.data(TYPING, {"input": {"conversationId": conversation_id}})
    forbidden = await viewer.api.call(TYPING, {"input": {"conversationId": conversation_id}})

    assert shown["sendTypingIndicator"] == {
        "conversation": {"id": conversation_id},
        "userErrors": [],
    }
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    async def typed() -> list[str]:
        return list(fake.typing)

    assert await eventually(typed) == [customer.provider_message_id]


async def test_the_sandbox_accepts_typing_and_a_silent_conversation_is_refused(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    conversation_id = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]
    stranger = await member(server, api)
    sent = await owner.api.data(
        SEND_TO, {"input": {"deviceId": device_id, "to": unique_phone(), "template": HELLO}}
    )
    silent_id = sent["sendMessage"]["message"]["conversation"]["id"]

    accepted = await owner.api.data(TYPING, {"input": {"conversationId": conversation_id}})
    other_org = await stranger.api.data(TYPING, {"input": {"conversationId": conversation_id}})
    silent = await owner.api.data(TYPING, {"input": {"conversationId": silent_id}})

    assert accepted["sendTypingIndicator"]["userErrors"] == []
    assert [e["code"] for e in other_org["sendTypingIndicator"]["userErrors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in silent["sendTypingIndicator"]["userErrors"]] == ["CONFLICT"]
