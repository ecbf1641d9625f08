from __future__ import annotations

import asyncio
from typing import Any

from gql import gql

from app.models.accounts import Role
from app.platform.ids import to_global_id
from app.workers.messaging import process_webhook_event
from tests.support.client import Api
from tests.support.messaging import (
    CONNECT_DEVICE,
    CREATE_DEVICE,
    member,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

CONVERSATION_EVENTS = """
subscription { conversationEvents { kind conversation { id status assignee { id } } } }
"""
DEVICE_EVENTS = "subscription($id: ID!) { deviceEvents(deviceId: $id) { device { id status } } }"
ASSIGN = """
mutation($input: AssignConversationInput!) {
  assignConversation(input: $input) {
    conversation { id assignee { id } }
    userErrors { field message code }
  }
}
"""
CLOSE = """
mutation($input: CloseConversationInput!) {
  closeConversation(input: $input) { conversation { status } userErrors { message } }
}
"""
MARK_READ = """
mutation($input: MarkConversationReadInput!) {
  markConversationRead(input: $input) { conversation { unreadCount } userErrors { message } }
}
"""
MINE = "{ conversations(assignedToMe: true) { nodes { id } } }"
UPDATE_DEVICE = """
mutation($input: UpdateDeviceInput!) {
  updateDevice(input: $input) {
    device { id name messagesPerSecond }
    userErrors { field message code }
  }
}
"""
DELETE_DEVICE = """
mutation($input: DeleteDeviceInput!) {
  deleteDevice(input: $input) { deletedDeviceId userErrors { field code } }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


async def _take(session: Any, document: str, variables: dict[str, Any], into: list[Any], n: int):
    async for event in session.subscribe(gql(document), variable_values=variables):
        into.append(event)
        if len(into) >= n:
            return


async def test_assigning_and_closing_reach_subscribers_of_the_same_organization_only(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    device_id = await sandbox_device(owner)
    conversation_id = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]
    mine: list[Any] = []
    theirs: list[Any] = []

    async with owner.api.websocket() as ours, stranger.api.websocket() as other:
        watching = asyncio.create_task(_take(ours, CONVERSATION_EVENTS, {}, mine, 2))
        snooping = asyncio.create_task(_take(other, CONVERSATION_EVENTS, {}, theirs, 1))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:conversations")
        await wait_for_subscribers(server, f"org:{stranger.organization_id}:conversations")
        await owner.api.data(
            ASSIGN,
            {
                "input": {
                    "conversationId": conversation_id,
                    "assigneeId": to_global_id("User", owner.user_id),
                }
            },
        )
        await owner.api.data(CLOSE, {"input": {"conversationId": conversation_id}})
        await asyncio.wait_for(watching, timeout=20)
        await asyncio.sleep(0.5)  # time enough for a leaked event to arrive
        snooping.cancel()

    me = to_global_id("User", owner.user_id)
    assert [e["conversationEvents"] for e in mine] == [
        {
            "kind": "UPDATED",
            "conversation": {"id": conversation_id, "status": "OPEN", "assignee": {"id": me}},
        },
        {
            "kind": "UPDATED",
            "conversation": {"id": conversation_id, "status": "CLOSED", "assignee": {"id": me}},
        },
    ]
    assert theirs == []


async def test_connecting_a_device_is_seen_on_device_events(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    created = await owner.api.data(
        CREATE_DEVICE,
        {"input": {"name": "New", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
    )
    device_id = created["createDevice"]["device"]["id"]
    seen: list[Any] = []

    async with owner.api.websocket() as session:
        listening = asyncio.create_task(_take(session, DEVICE_EVENTS, {"id": device_id}, seen, 1))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:devices")
        await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
        await asyncio.wait_for(listening, timeout=20)

    assert created["createDevice"]["device"]["status"] == "PENDING"
    assert seen == [{"deviceEvents": {"device": {"id": device_id, "status": "CONNECTED"}}}]


async def test_a_conversation_is_assigned_to_members_only_and_can_be_unassigned(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, role=Role.AGENT, organization_id=owner.organization_id)
    outsider = await member(server, api)
    device_id = await sandbox_device(owner)
    conversation_id = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]

    to_agent = await owner.api.data(
        ASSIGN,
        {
            "input": {
                "conversationId": conversation_id,
                "assigneeId": to_global_id("User", agent.user_id),
            }
        },
    )
    agents_inbox = await agent.api.data(MINE)
    to_outsider = await owner.api.data(
        ASSIGN,
        {
            "input": {
                "conversationId": conversation_id,
                "assigneeId": to_global_id("User", outsider.user_id),
            }
        },
    )
    unassigned = await agent.api.data(
        ASSIGN, {"input": {"conversationId": conversation_id, "assigneeId": None}}
    )

    assert to_agent["assignConversation"]["conversation"]["assignee"] == {
        "id": to_global_id("User", agent.user_id)
    }
    assert agents_inbox["conversations"]["nodes"] == [{"id": conversation_id}]
    [error] = to_outsider["assignConversation"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "assigneeId"], "NOT_FOUND")
    assert unassigned["assignConversation"]["conversation"]["assignee"] is None


async def test_marking_a_conversation_read_sets_its_unread_count_back_to_zero(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    await simulate(owner, device_id, customer, "One")
    second = await simulate(owner, device_id, customer, "Two")
    conversation_id = second["conversation"]["id"]

    read = await owner.api.data(MARK_READ, {"input": {"conversationId": conversation_id}})

    assert second["conversation"]["unreadCount"] == 2
    assert read["markConversationRead"]["conversation"]["unreadCount"] == 0


async def test_a_device_is_renamed_and_rate_checked_and_deleted_with_its_conversations(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    device_id = await sandbox_device(owner)
    conversation_id = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]

    renamed = await owner.api.data(
        UPDATE_DEVICE, {"input": {"deviceId": device_id, "name": "Sales", "messagesPerSecond": 20}}
    )
    too_fast = await owner.api.data(
        UPDATE_DEVICE, {"input": {"deviceId": device_id, "messagesPerSecond": 5000}}
    )
    not_theirs = await stranger.api.data(DELETE_DEVICE, {"input": {"deviceId": device_id}})
    deleted = await owner.api.data(DELETE_DEVICE, {"input": {"deviceId": device_id}})
    device_after = await owner.api.data(NODE, {"id": device_id})
    conversation_after = await owner.api.data(NODE, {"id": conversation_id})

    assert renamed["updateDevice"]["device"] == {
        "id": device_id,
        "name": "Sales",
        "messagesPerSecond": 20,
    }
    [error] = too_fast["updateDevice"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "messagesPerSecond"], "INVALID")
    assert [e["code"] for e in not_theirs["deleteDevice"]["userErrors"]] == ["NOT_FOUND"]
    assert deleted["deleteDevice"] == {"deletedDeviceId": device_id, "userErrors": []}
    assert device_after["node"] is None
    assert conversation_after["node"] is None


async def test_a_webhook_job_whose_event_went_with_its_device_ends_quietly(
    server: RunningServer,
) -> None:
    # A status webhook stored just before its device was deleted: the deletion takes the
    # event along, and its job (or its retry) finds nothing to apply, which is not a failure.
    assert await process_webhook_event({"runtime": server.runtime}, event_id=2**40) is None
