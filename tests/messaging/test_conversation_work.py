"""Private notes, snoozing and the conversation timeline, through GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.models.accounts import Role
from app.platform.ids import to_global_id
from tests.support.client import Api
from tests.support.messaging import (
    Member,
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
)
from tests.support.server import RunningServer

ADD_NOTE = """
mutation($input: AddConversationNoteInput!) {
  addConversationNote(input: $input) {
    note { id body author { id } createdAt }
    userErrors { field message code }
  }
}
"""
NOTES = """
query($id: ID!) {
  node(id: $id) {
    ... on Conversation {
      notes(first: 10) { nodes { body author { id } } }
      messages(last: 10) { nodes { body } }
    }
  }
}
"""
SNOOZE = """
mutation($input: SnoozeConversationInput!) {
  snoozeConversation(input: $input) {
    conversation { id status snoozedUntil }
    userErrors { field message code }
  }
}
"""
STATE = "query($id: ID!) { node(id: $id) { ... on Conversation { status snoozedUntil } } }"
ASSIGN = """
mutation($input: AssignConversationInput!) {
  assignConversation(input: $input) { userErrors { code } }
}
"""
CLOSE = """
mutation($input: CloseConversationInput!) {
  closeConversation(input: $input) { userErrors { code } }
}
"""
CREATE_LABEL = """
mutation($input: CreateLabelInput!) { createLabel(input: $input) { label { id } } }
"""
SET_LABELS = """
mutation($input: SetConversationLabelsInput!) {
  setConversationLabels(input: $input) { userErrors { code } }
}
"""
TIMELINE = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on Conversation {
      timeline(first: $first, after: $after) {
        edges {
          cursor
          node {
            __typename
            ... on Message { body direction }
            ... on ConversationNote { note: body }
            ... on ConversationActivity { kind data actor { id } assignee { id } }
          }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""


async def _conversation(owner: Member) -> tuple[str, str, str]:
    device_id = await sandbox_device(owner)
    phone = unique_phone()
    message = await simulate(owner, device_id, phone, "Hi")
    return device_id, phone, message["conversation"]["id"]


async def test_members_read_private_notes_that_are_never_sent(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    stranger = await member(server, api)
    _, _, conversation = await _conversation(owner)

    added = await agent.api.data(
        ADD_NOTE, {"input": {"conversationId": conversation, "body": "VIP, be quick"}}
    )
    by_viewer = await viewer.api.call(
        ADD_NOTE, {"input": {"conversationId": conversation, "body": "x"}}
    )
    by_stranger = await stranger.api.data(
        ADD_NOTE, {"input": {"conversationId": conversation, "body": "x"}}
    )
    empty = await agent.api.data(ADD_NOTE, {"input": {"conversationId": conversation, "body": " "}})

    note = added["addConversationNote"]["note"]
    assert (note["body"], note["author"]["id"]) == (
        "VIP, be quick",
        to_global_id("User", agent.user_id),
    )
    assert by_viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_stranger["addConversationNote"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert empty["addConversationNote"]["userErrors"][0]["field"] == ["input", "body"]
    seen = (await viewer.api.data(NOTES, {"id": conversation}))["node"]
    assert seen["notes"]["nodes"] == [
        {"body": "VIP, be quick", "author": {"id": to_global_id("User", agent.user_id)}}
    ]
    assert seen["messages"]["nodes"] == [{"body": "Hi"}]  # nothing went to the customer
    assert (await stranger.api.data(NOTES, {"id": conversation}))["node"] is None
    hidden = await stranger.api.data("query($id: ID!) { node(id: $id) { id } }", {"id": note["id"]})
    assert hidden["node"] is None


async def test_a_snoozed_conversation_reopens_on_the_customers_next_message(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    device_id, phone, conversation = await _conversation(owner)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)

    snoozed = await agent.api.data(
        SNOOZE, {"input": {"conversationId": conversation, "until": tomorrow.isoformat()}}
    )
    await simulate(owner, device_id, phone, "Are you there?")

    state = snoozed["snoozeConversation"]["conversation"]
    assert state["status"] == "PENDING"
    assert datetime.fromisoformat(state["snoozedUntil"]) == tomorrow
    assert (await agent.api.data(STATE, {"id": conversation}))["node"] == {
        "status": "OPEN",
        "snoozedUntil": None,
    }


async def test_a_snoozed_conversation_reopens_when_its_time_has_passed(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    _, _, conversation = await _conversation(owner)
    soon = datetime.now(UTC) + timedelta(seconds=1)

    await owner.api.data(
        SNOOZE, {"input": {"conversationId": conversation, "until": soon.isoformat()}}
    )

    async def reopened() -> bool:
        node = (await owner.api.data(STATE, {"id": conversation}))["node"]
        return node == {"status": "OPEN", "snoozedUntil": None}

    assert (await owner.api.data(STATE, {"id": conversation}))["node"]["status"] == "PENDING"
    await eventually(reopened, within=15)


async def test_snoozing_is_refused_for_the_past_for_viewers_and_across_organizations(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    stranger = await member(server, api)
    _, _, conversation = await _conversation(owner)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    in_the_past = await owner.api.data(
        SNOOZE, {"input": {"conversationId": conversation, "until": past}}
    )
    by_viewer = await viewer.api.call(
        SNOOZE, {"input": {"conversationId": conversation, "until": later}}
    )
    by_stranger = await stranger.api.data(
        SNOOZE, {"input": {"conversationId": conversation, "until": later}}
    )

    assert in_the_past["snoozeConversation"]["userErrors"][0]["field"] == ["input", "until"]
    assert by_viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_stranger["snoozeConversation"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await owner.api.data(STATE, {"id": conversation}))["node"]["status"] == "OPEN"


async def _timeline(who: Member, conversation: str, **page: Any) -> dict[str, Any]:
    data = await who.api.data(TIMELINE, {"id": conversation, **page})
    timeline: dict[str, Any] = data["node"]["timeline"]
    return timeline


async def test_the_timeline_merges_messages_notes_and_activity_in_order(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    device_id, phone, conversation = await _conversation(owner)
    label = (await owner.api.data(CREATE_LABEL, {"input": {"name": "Refund"}}))["createLabel"][
        "label"
    ]
    me = to_global_id("User", agent.user_id)

    await agent.api.data(ASSIGN, {"input": {"conversationId": conversation, "assigneeId": me}})
    await agent.api.data(ADD_NOTE, {"input": {"conversationId": conversation, "body": "Refund?"}})
    await agent.api.data(
        SET_LABELS, {"input": {"conversationId": conversation, "labelIds": [label["id"]]}}
    )
    await agent.api.data(CLOSE, {"input": {"conversationId": conversation}})
    await simulate(owner, device_id, phone, "One more thing")

    first = await _timeline(viewer, conversation, first=3)
    rest = await _timeline(viewer, conversation, first=10, after=first["pageInfo"]["endCursor"])

    entries = [edge["node"] for edge in first["edges"] + rest["edges"]]
    # The customer's message is stored, then it reopens the closed conversation.
    assert [
        (e["__typename"], e.get("body") or e.get("note") or e.get("kind")) for e in entries
    ] == [
        ("Message", "Hi"),
        ("ConversationActivity", "ASSIGNED"),
        ("ConversationNote", "Refund?"),
        ("ConversationActivity", "LABELLED"),
        ("ConversationActivity", "CLOSED"),
        ("Message", "One more thing"),
        ("ConversationActivity", "REOPENED"),
    ]
    assigned, labelled = entries[1], entries[3]
    assert (assigned["actor"], assigned["assignee"]) == ({"id": me}, {"id": me})
    assert labelled["data"] == {"labels": ["Refund"]}
    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False
    refused = await viewer.api.call(TIMELINE, {"id": conversation, "after": "not-a-cursor"})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
