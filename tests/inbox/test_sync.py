"""Gap-free sync (issue 20): every inbox change in the organization's log, paged by
`inboxChanges` and live by `inboxEvents(after:)`, resumable from a cursor."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
from gql import gql

from app.models.accounts import Role
from app.platform import clock
from app.workers.inbox import prune_inbox_changes
from tests.support.client import Api
from tests.support.messaging import (
    SEND,
    Member,
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

CONVERSATION_FIELDS = "id status unreadCount lastMessageAt lastInboundAt aiEnabled assignee { id }"
MESSAGE_FIELDS = "id status body direction type errorCode conversation { id }"
INBOX_EVENTS = f"""
subscription($after: String) {{
  inboxEvents(after: $after) {{
    cursor kind
    conversation {{ {CONVERSATION_FIELDS} }}
    message {{ {MESSAGE_FIELDS} }}
  }}
}}
"""
INBOX_CHANGES = """
query($after: String, $first: Int) {
  inboxChanges(after: $after, first: $first) {
    headCursor
    edges { cursor node { cursor kind conversation { id } message { id status } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
HEAD = "{ inboxChanges(first: 0) { headCursor } }"
CONVERSATIONS = f"{{ conversations(first: 20) {{ nodes {{ {CONVERSATION_FIELDS} }} }} }}"
MESSAGES = f"""
query($id: ID!) {{ node(id: $id) {{ ... on Conversation {{
  messages(first: 100) {{ nodes {{ {MESSAGE_FIELDS} }} }} }} }} }}
"""
ASSIGN = """
mutation($input: AssignConversationInput!) {
  assignConversation(input: $input) { userErrors { message } }
}
"""
CLOSE = """
mutation($input: CloseConversationInput!) {
  closeConversation(input: $input) { userErrors { message } }
}
"""
MARK_READ = """
mutation($input: MarkConversationReadInput!) {
  markConversationRead(input: $input) { userErrors { message } }
}
"""
SET_AI = """
mutation($input: SetConversationAIInput!) {
  setConversationAI(input: $input) { userErrors { message } }
}
"""


class InboxState:
    """What an SPA keeps: each conversation and message as the latest event showed it."""

    def __init__(self) -> None:
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.cursor: str | None = None
        self.cursors: list[str] = []

    def apply(self, event: dict[str, Any]) -> None:
        if event["conversation"] is not None:
            self.conversations[event["conversation"]["id"]] = event["conversation"]
        if event["message"] is not None:
            self.messages[event["message"]["id"]] = event["message"]
        self.cursor = event["cursor"]
        self.cursors.append(event["cursor"])


async def _follow(session: Any, after: str | None, state: InboxState, until: Any = None) -> None:
    async for result in session.subscribe(gql(INBOX_EVENTS), variable_values={"after": after}):
        state.apply(result["inboxEvents"])
        if until is not None and until(state):
            return


async def _head(who: Member) -> str:
    data = await who.api.data(HEAD)
    cursor: str = data["inboxChanges"]["headCursor"]
    return cursor


async def _quiet_head(who: Member) -> str:
    """The head once nothing has changed for a while (the sandbox's statuses have landed)."""
    previous = await _head(who)
    while True:
        await asyncio.sleep(1.6)
        current = await _head(who)
        if current == previous:
            return current
        previous = current


async def _mixed_changes(
    actors: list[Member], device_id: str, count: int, assignees: list[str | None]
) -> None:
    """``count`` inbox actions of every kind: new messages in and out (whose statuses then
    advance), assignments, reads, closes, AI on and off (by turns, within each member's cost
    budget)."""
    chooser = random.Random(20)
    customers = [unique_phone() for _ in range(6)]
    conversations: list[str] = []
    for step in range(count):
        owner = agent = actors[step % len(actors)]
        action = chooser.choice(["inbound", "inbound", "send", "assign", "read", "close", "ai"])
        if action == "inbound" or not conversations:
            message = await simulate(owner, device_id, chooser.choice(customers), f"in {step}")
            if message["conversation"]["id"] not in conversations:
                conversations.append(message["conversation"]["id"])
            continue
        conversation_id = chooser.choice(conversations)
        if action == "send":
            text = f"out {step}"
            sent = await owner.api.data(
                SEND, {"input": {"conversationId": conversation_id, "text": text}}
            )
            assert sent["sendMessage"]["userErrors"] == []
        elif action == "assign":
            assignee = chooser.choice(assignees)
            await owner.api.data(
                ASSIGN, {"input": {"conversationId": conversation_id, "assigneeId": assignee}}
            )
        elif action == "read":
            await agent.api.data(MARK_READ, {"input": {"conversationId": conversation_id}})
        elif action == "close":
            await agent.api.data(CLOSE, {"input": {"conversationId": conversation_id}})
        else:
            enabled = chooser.random() < 0.5
            await agent.api.data(
                SET_AI, {"input": {"conversationId": conversation_id, "enabled": enabled}}
            )


async def test_a_client_that_reconnects_with_its_cursor_ends_like_one_that_never_left(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    actors = [owner, agent] + [
        await member(server, api, Role.AGENT, owner.organization_id) for _ in range(3)
    ]
    assignees = [await _user_id(owner), await _user_id(agent), None]
    device_id = await sandbox_device(owner)
    start = await _head(owner)
    stayed, left = InboxState(), InboxState()

    async with owner.api.websocket() as staying:
        following = asyncio.create_task(_follow(staying, start, stayed))
        async with agent.api.websocket() as leaving:
            first_seen = asyncio.create_task(
                _follow(leaving, start, left, until=lambda s: len(s.cursors) >= 3)
            )
            await wait_for_subscribers(server, f"org:{owner.organization_id}:inbox")
            await _mixed_changes(actors, device_id, 2, assignees)
            await asyncio.wait_for(first_seen, 20)
        # The leaving client is gone (its socket closed); 200 changes happen without it.
        await _mixed_changes(actors, device_id, 200, assignees)
        head = await _quiet_head(owner)
        await eventually(lambda: _at(stayed, head), within=30)
        following.cancel()

    async with agent.api.websocket() as back:
        await asyncio.wait_for(
            _follow(back, left.cursor, left, until=lambda s: s.cursor == head), 60
        )

    assert left.cursors == stayed.cursors  # every change, once, in order
    assert left.conversations == stayed.conversations
    assert left.messages == stayed.messages
    # ... and both hold exactly what the inbox holds now, field by field.
    conversations = (await owner.api.data(CONVERSATIONS))["conversations"]["nodes"]
    assert {c["id"]: c for c in conversations} == stayed.conversations
    messages = {}
    for conversation in conversations:
        page = await owner.api.data(MESSAGES, {"id": conversation["id"]})
        messages |= {m["id"]: m for m in page["node"]["messages"]["nodes"]}
    assert messages == stayed.messages
    assert len(stayed.cursors) > 200


async def _at(state: InboxState, head: str) -> bool:
    return state.cursor == head


async def _user_id(who: Member) -> str:
    data = await who.api.data("{ me { id } }")
    user_id: str = data["me"]["id"]
    return user_id
