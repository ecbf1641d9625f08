from __future__ import annotations

import asyncio
from typing import Any

from gql import gql

from tests.support.client import Api
from tests.support.messaging import (
    SEND,
    member,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

MESSAGE_EVENTS = """
subscription($conversationId: ID, $deviceId: ID) {
  messageEvents(conversationId: $conversationId, deviceId: $deviceId) {
    kind
    message { id direction body status conversation { id } }
  }
}
"""


async def _collect(session: Any, variables: dict[str, Any], into: list[dict[str, Any]], n: int):
    async for event in session.subscribe(gql(MESSAGE_EVENTS), variable_values=variables):
        into.append(event["messageEvents"])
        if len(into) >= n:
            return


async def test_a_sandbox_subscriber_sees_the_inbound_message_and_the_reply_advance_to_read(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    seen: list[dict[str, Any]] = []

    async with owner.api.websocket() as session:
        listening = asyncio.create_task(_collect(session, {"deviceId": device_id}, seen, 5))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:messages")
        inbound = await simulate(owner, device_id, customer, "Hello, is my order shipped?")
        reply = await owner.api.data(
            SEND,
            {
                "input": {
                    "conversationId": inbound["conversation"]["id"],
                    "text": "Yes, it left this morning.",
                }
            },
        )
        await asyncio.wait_for(listening, timeout=20)

    sent = reply["sendMessage"]["message"]
    assert reply["sendMessage"]["userErrors"] == []
    assert sent["status"] == "QUEUED"
    assert [(e["kind"], e["message"]["id"], e["message"]["status"]) for e in seen] == [
        ("CREATED", inbound["id"], "RECEIVED"),
        ("CREATED", sent["id"], "QUEUED"),
        ("STATUS_CHANGED", sent["id"], "SENT"),
        ("STATUS_CHANGED", sent["id"], "DELIVERED"),
        ("STATUS_CHANGED", sent["id"], "READ"),
    ]
