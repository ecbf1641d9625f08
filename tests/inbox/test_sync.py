"""Gap-free sync (issue 20): every inbox change in the organization's log, paged by
`inboxChanges` and live by `inboxEvents(after:)`, resumable from a cursor."""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gql import gql
from gql.transport.exceptions import TransportQueryError

from app.inbox import sync
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

ROOT = Path(__file__).resolve().parents[2]
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


async def test_inbox_changes_pages_through_every_change_in_order(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    device_id = await sandbox_device(owner)
    start = await _head(owner)
    first = await simulate(owner, device_id, unique_phone(), "one")
    await simulate(owner, device_id, unique_phone(), "two")

    page = (await viewer.api.data(INBOX_CHANGES, {"after": start, "first": 3}))["inboxChanges"]
    rest = (
        await viewer.api.data(INBOX_CHANGES, {"after": page["pageInfo"]["endCursor"], "first": 3})
    )["inboxChanges"]

    kinds = [e["node"]["kind"] for e in page["edges"] + rest["edges"]]
    assert kinds == [
        "CONVERSATION_CREATED",
        "MESSAGE_CREATED",
        "CONVERSATION_UPDATED",
        "CONVERSATION_CREATED",
        "MESSAGE_CREATED",
        "CONVERSATION_UPDATED",
    ]
    assert page["edges"][1]["node"]["message"]["id"] == first["id"]
    assert page["edges"][0]["node"]["conversation"]["id"] == first["conversation"]["id"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["headCursor"] == rest["edges"][-1]["cursor"] == rest["pageInfo"]["endCursor"]
    assert [e["cursor"] for e in page["edges"]] == [e["node"]["cursor"] for e in page["edges"]]


async def test_another_organizations_changes_are_neither_listed_nor_streamed(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    device_id = await sandbox_device(owner)
    their_start = await _head(stranger)
    seen = InboxState()

    async with stranger.api.websocket() as session:
        listening = asyncio.create_task(_follow(session, None, seen))
        await wait_for_subscribers(server, f"org:{stranger.organization_id}:inbox")
        await simulate(owner, device_id, unique_phone(), "private")
        await asyncio.sleep(1)
        listening.cancel()

    page = (await stranger.api.data(INBOX_CHANGES, {"after": their_start}))["inboxChanges"]
    assert seen.cursors == []
    assert page["edges"] == []


async def test_signed_out_callers_get_no_changes(server: RunningServer, api: Api) -> None:
    result = await api.call(INBOX_CHANGES)

    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_cursor_older_than_the_retention_window_answers_cursor_expired(
    server: RunningServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    before = await _head(owner)
    await simulate(owner, device_id, unique_phone(), "old news")
    kept_from = await _head(owner)
    later = clock.now() + timedelta(days=server.settings.inbox_change_retention_days + 1)
    monkeypatch.setattr(clock, "now", lambda: later)

    pruned = await prune_inbox_changes({"runtime": server.runtime})
    await simulate(owner, device_id, unique_phone(), "fresh news")

    expired = await owner.api.call(INBOX_CHANGES, {"after": before})
    assert pruned >= 3
    assert expired["errors"][0]["extensions"]["code"] == "CURSOR_EXPIRED"
    kept = (await owner.api.data(INBOX_CHANGES, {"after": kept_from}))["inboxChanges"]
    assert [e["node"]["kind"] for e in kept["edges"]] == [
        "CONVERSATION_CREATED",
        "MESSAGE_CREATED",
        "CONVERSATION_UPDATED",
    ]
    async with owner.api.websocket() as session:
        with pytest.raises(TransportQueryError) as caught:
            await _follow(session, before, InboxState())
    assert caught.value.errors is not None
    assert caught.value.errors[0]["extensions"]["code"] == "CURSOR_EXPIRED"


_WRITER = """
import asyncio, random, sys

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from app.inbox import sync
from app.platform import events
from app.platform.config import tortoise_config


async def main(url: str, org_id: int, batches: int, seed: int) -> None:
    await Tortoise.init(config=tortoise_config(url))
    chooser = random.Random(seed)
    written = 0
    try:
        for n in range(batches):
            size = chooser.randint(1, 3)
            # As the events seam calls it: in the transaction of the change.
            async with in_transaction():
                await sync.record(
                    [events.MessageEvent("CREATED", org_id, n, 1, 1)] * size, events.Written()
                )
            written += size
    finally:
        await Tortoise.close_connections()
    print(written)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"""


async def test_changes_written_by_concurrent_processes_are_read_without_skipping_any(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    url = server.settings.resolved_database_url
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WRITER,
            url,
            str(owner.organization_id),
            "150",
            str(seed),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for seed in range(4)
    ]
    done = asyncio.gather(*(writer.communicate() for writer in writers))
    read: list[int] = []

    # Read while they write, as `inboxChanges` and `inboxEvents` read: the changes after the
    # last one read (here straight from the log, polled faster than a client's budget allows).
    while not done.done() or not read or read[-1] < await sync.head(owner.organization_id):
        page = await sync.changes_after(owner.organization_id, read[-1] if read else 0, 100)
        read += [change.seq for change in page]
        await asyncio.sleep(0.002)

    outputs = await done
    assert all(w.returncode == 0 for w in writers), [err.decode()[-2000:] for _, err in outputs]
    written = sum(int(out) for out, _ in outputs)
    assert read == list(range(1, written + 1))


async def test_two_clients_resuming_from_the_same_cursor_each_get_the_whole_replay(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    start = await _head(owner)
    await simulate(owner, device_id, unique_phone(), "first")
    early, late = InboxState(), InboxState()

    async with owner.api.websocket() as one, owner.api.websocket() as two:
        following = asyncio.create_task(_follow(one, start, early))
        await eventually(lambda: _count(early, 3))
        await simulate(owner, device_id, unique_phone(), "second")
        await eventually(lambda: _count(early, 6))
        await asyncio.wait_for(_follow(two, start, late, until=lambda s: len(s.cursors) == 6), 10)
        following.cancel()

    assert late.cursors == early.cursors


async def _count(state: InboxState, n: int) -> bool:
    return len(state.cursors) >= n
