"""Teams and routing (issue 20): round robin within capacity, availability, the out-of-hours
reply; ADMIN manages teams, AGENT works conversations, other organizations see nothing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from app.models.accounts import Membership, Role
from app.platform import clock
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

CREATE_TEAM = """
mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id name } userErrors { field message code } }
}
"""
ADD_MEMBER = """
mutation($input: TeamMemberInput!) {
  addTeamMember(input: $input) {
    team { id members { id } agents { member { id } availability capacity openConversations } }
    userErrors { field message code }
  }
}
"""
SET_CAPACITY = """
mutation($input: SetAgentCapacityInput!) {
  setAgentCapacity(input: $input) { member { id } userErrors { field message code } }
}
"""
SET_DEVICE_TEAM = """
mutation($input: SetDeviceTeamInput!) {
  setDeviceTeam(input: $input) { device { id } userErrors { field message code } }
}
"""
TO_TEAM = """
mutation($input: AssignConversationToTeamInput!) {
  assignConversationToTeam(input: $input) {
    conversation { id team { id name } assignee { id } }
    userErrors { field message code }
  }
}
"""
SET_AVAILABILITY = """
mutation($input: SetAvailabilityInput!) {
  setAvailability(input: $input) { availability userErrors { field message code } }
}
"""
CLOSE = """
mutation($input: CloseConversationInput!) {
  closeConversation(input: $input) { userErrors { message } }
}
"""
CONVERSATION = """
query($id: ID!) { node(id: $id) { ... on Conversation { id assignee { id } team { id } } } }
"""
TEAMS = "{ teams { id name members { id } } }"
ALL = """
query($after: String) {
  conversations(first: 100, after: $after) {
    nodes { assignee { id } } pageInfo { hasNextPage endCursor }
  }
}
"""
UPDATE_SETTINGS = """
mutation($input: UpdateInboxSettingsInput!) {
  updateInboxSettings(input: $input) {
    inboxSettings { awayMessage defaultCapacity searchLanguage }
    userErrors { field message code }
  }
}
"""
SET_HOURS = """
mutation($input: SetBusinessHoursInput!) {
  setBusinessHours(input: $input) { userErrors { message } }
}
"""
MESSAGES = """
query($id: ID!) { node(id: $id) { ... on Conversation {
  messages(first: 50) { nodes { direction body } } } } }
"""


async def _member_id(who: Member) -> str:
    membership = await Membership.get(user_id=who.user_id, organization_id=who.organization_id)
    return to_global_id("Member", membership.id)


async def _user_id(who: Member) -> str:
    return to_global_id("User", who.user_id)


async def _team(admin: Member, name: str, agents: list[Member]) -> str:
    created = await admin.api.data(CREATE_TEAM, {"input": {"name": name}})
    assert created["createTeam"]["userErrors"] == []
    team_id: str = created["createTeam"]["team"]["id"]
    for agent in agents:
        added = await admin.api.data(
            ADD_MEMBER, {"input": {"teamId": team_id, "memberId": await _member_id(agent)}}
        )
        assert added["addTeamMember"]["userErrors"] == []
    return team_id


async def _routed_device(admin: Member, team_id: str) -> str:
    device_id = await sandbox_device(admin)
    routed = await admin.api.data(
        SET_DEVICE_TEAM, {"input": {"deviceId": device_id, "teamId": team_id}}
    )
    assert routed["setDeviceTeam"]["userErrors"] == []
    return device_id


async def _assignee(who: Member, conversation_id: str) -> str | None:
    data = await who.api.data(CONVERSATION, {"id": conversation_id})
    assignee = data["node"]["assignee"]
    return assignee["id"] if assignee else None


async def test_300_new_conversations_over_3_agents_with_capacity_50_are_spread_100_each(
    server: RunningServer, api: Api
) -> None:
    admin = await member(server, api, Role.ADMIN)
    agents = [await member(server, api, Role.AGENT, admin.organization_id) for _ in range(3)]
    team_id = await _team(admin, "Support", agents)
    for agent in agents:
        capped = await admin.api.data(
            SET_CAPACITY, {"input": {"memberId": await _member_id(agent), "capacity": 50}}
        )
        assert capped["setAgentCapacity"]["userErrors"] == []
    device_id = await _routed_device(admin, team_id)
    actors = [admin, *agents]
    customers: set[str] = set()
    while len(customers) < 300:  # 300 new conversations: no number twice
        customers.add(unique_phone())
    numbers = iter(sorted(customers))

    # Capacity counts open conversations: 50 arrive, are handled and closed, 50 more arrive...
    for batch in range(6):
        conversations = []
        for n in range(50):
            actor = actors[n % len(actors)]
            message = await simulate(actor, device_id, next(numbers), f"order {batch}-{n}")
            conversations.append(message["conversation"]["id"])
        for n, conversation_id in enumerate(conversations):
            actor = actors[n % len(actors)]
            await actor.api.data(CLOSE, {"input": {"conversationId": conversation_id}})

    every = await _all(admin)
    spread = Counter(c["assignee"]["id"] if c["assignee"] else None for c in every)
    assert len(every) == 300
    assert spread == {await _user_id(agent): 100 for agent in agents}


async def _all(who: Member) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await who.api.data(ALL, {"after": after}))["conversations"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def test_an_agent_at_capacity_gets_no_more_and_waiting_ones_take_freed_places(
    server: RunningServer, api: Api
) -> None:
    admin = await member(server, api, Role.ADMIN)
    first, second = [await member(server, api, Role.AGENT, admin.organization_id) for _ in "ab"]
    await admin.api.data(UPDATE_SETTINGS, {"input": {"defaultCapacity": 2}})
    team_id = await _team(admin, "Sales", [first])
    device_id = await _routed_device(admin, team_id)

    conversations = [
        (await simulate(admin, device_id, unique_phone(), "hi"))["conversation"]["id"]
        for _ in range(3)
    ]
    assignees = [await _assignee(admin, c) for c in conversations]
    await admin.api.data(
        ADD_MEMBER, {"input": {"teamId": team_id, "memberId": await _member_id(second)}}
    )
    fourth = (await simulate(admin, device_id, unique_phone(), "hi"))["conversation"]["id"]
    fifth = (await simulate(admin, device_id, unique_phone(), "hi"))["conversation"]["id"]
    waiting = await _assignee(admin, fifth)
    await first.api.data(CLOSE, {"input": {"conversationId": conversations[0]}})

    assert assignees == [await _user_id(first), await _user_id(first), None]
    assert await _assignee(admin, conversations[2]) == await _user_id(second)
    assert await _assignee(admin, fourth) == await _user_id(second)
    assert waiting is None
    assert await _assignee(admin, fifth) == await _user_id(first)


async def test_an_agent_going_away_hands_back_and_stops_receiving_new_conversations(
    server: RunningServer, api: Api
) -> None:
    admin = await member(server, api, Role.ADMIN)
    leaving, staying = [await member(server, api, Role.AGENT, admin.organization_id) for _ in "ab"]
    team_id = await _team(admin, "Support", [leaving, staying])
    device_id = await _routed_device(admin, team_id)
    before = [
        (await simulate(admin, device_id, unique_phone(), "hello"))["conversation"]["id"]
        for _ in range(4)
    ]
    assert Counter([await _assignee(admin, c) for c in before]) == {
        await _user_id(leaving): 2,
        await _user_id(staying): 2,
    }

    away = await leaving.api.data(SET_AVAILABILITY, {"input": {"availability": "AWAY"}})
    after = [
        (await simulate(admin, device_id, unique_phone(), "hello"))["conversation"]["id"]
        for _ in range(3)
    ]

    assert away["setAvailability"] == {"availability": "AWAY", "userErrors": []}
    assert {await _assignee(admin, c) for c in before + after} == {await _user_id(staying)}
    await leaving.api.data(SET_AVAILABILITY, {"input": {"availability": "ONLINE"}})
    back = (await simulate(admin, device_id, unique_phone(), "hello"))["conversation"]["id"]
    assert await _assignee(admin, back) == await _user_id(leaving)


async def test_a_conversation_given_to_a_team_is_assigned_within_it(
    server: RunningServer, api: Api
) -> None:
    admin = await member(server, api, Role.ADMIN)
    agent = await member(server, api, Role.AGENT, admin.organization_id)
    team_id = await _team(admin, "Billing", [agent])
    device_id = await sandbox_device(admin)
    conversation_id = (await simulate(admin, device_id, unique_phone(), "invoice?"))[
        "conversation"
    ]["id"]

    given = await agent.api.data(
        TO_TEAM, {"input": {"conversationId": conversation_id, "teamId": team_id}}
    )

    assert given["assignConversationToTeam"] == {
        "conversation": {
            "id": conversation_id,
            "team": {"id": team_id, "name": "Billing"},
            "assignee": {"id": await _user_id(agent)},
        },
        "userErrors": [],
    }


async def test_admins_manage_teams_agents_and_viewers_do_not_and_other_organizations_are_refused(
    server: RunningServer, api: Api
) -> None:
    admin = await member(server, api, Role.ADMIN)
    agent = await member(server, api, Role.AGENT, admin.organization_id)
    viewer = await member(server, api, Role.VIEWER, admin.organization_id)
    stranger = await member(server, api, Role.OWNER)
    team_id = await _team(admin, "Support", [agent])
    device_id = await sandbox_device(admin)
    conversation_id = (await simulate(admin, device_id, unique_phone(), "hi"))["conversation"]["id"]

    by_agent = await agent.api.call(CREATE_TEAM, {"input": {"name": "Mine"}})
    by_viewer = await viewer.api.call(TO_TEAM, {"input": {"conversationId": conversation_id}})
    listed = await viewer.api.data(TEAMS)
    duplicate = await admin.api.data(CREATE_TEAM, {"input": {"name": "Support"}})
    their_add = await stranger.api.data(
        ADD_MEMBER, {"input": {"teamId": team_id, "memberId": await _member_id(stranger)}}
    )
    their_give = await stranger.api.data(
        TO_TEAM, {"input": {"conversationId": conversation_id, "teamId": team_id}}
    )
    their_teams = await stranger.api.data(TEAMS)
    others_availability = await agent.api.data(
        SET_AVAILABILITY,
        {"input": {"availability": "AWAY", "memberId": await _member_id(viewer)}},
    )

    assert by_agent["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert listed["teams"] == [
        {"id": team_id, "name": "Support", "members": [{"id": await _member_id(agent)}]}
    ]
    assert [e["code"] for e in duplicate["createTeam"]["userErrors"]] == ["TAKEN"]
    assert [e["code"] for e in their_add["addTeamMember"]["userErrors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in their_give["assignConversationToTeam"]["userErrors"]] == [
        "NOT_FOUND"
    ]
    assert their_teams["teams"] == []
    assert [e["code"] for e in others_availability["setAvailability"]["userErrors"]] == [
        "FORBIDDEN"
    ]


async def _bodies(who: Member, conversation_id: str) -> list[Any]:
    data = await who.api.data(MESSAGES, {"id": conversation_id})
    return [(m["direction"], m["body"]) for m in data["node"]["messages"]["nodes"]]


async def test_customers_writing_out_of_hours_get_the_away_message_once_per_closed_period(
    server: RunningServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await member(server, api, Role.ADMIN)
    device_id = await sandbox_device(admin)
    now = clock.now()
    today = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
    # Open only in today's first minute: closed since 00:01.
    await admin.api.data(
        SET_HOURS,
        {"input": {"businessHours": {"timezone": "UTC", "hours": {today: "00:00-00:01"}}}},
    )
    away = "We are closed; we answer from 9:00."
    settings = await admin.api.data(UPDATE_SETTINGS, {"input": {"awayMessage": away}})
    assert settings["updateInboxSettings"]["inboxSettings"]["awayMessage"] == away
    customer = unique_phone()

    first = await simulate(admin, device_id, customer, "hello?")
    conversation_id = first["conversation"]["id"]
    await eventually(lambda: _has_replies(admin, conversation_id, away, 1))
    await simulate(admin, device_id, customer, "anyone?")
    # The same closed period: no second reply (give the job the time it would take).
    await _settle(admin, conversation_id)
    # Today's hours now end after that reply, and it is two hours later: a new closed period.
    closing = min(now + timedelta(hours=1), now.replace(hour=23, minute=59))
    await admin.api.data(
        SET_HOURS,
        {
            "input": {
                "businessHours": {
                    "timezone": "UTC",
                    "hours": {today: f"00:00-{closing:%H:%M}"},
                }
            }
        },
    )
    later = now + timedelta(hours=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    await simulate(admin, device_id, customer, "still there?")

    await eventually(lambda: _has_replies(admin, conversation_id, away, 2))
    bodies = await _bodies(admin, conversation_id)
    assert [b for d, b in bodies if d == "OUTBOUND"] == [away, away]


async def _has_replies(who: Member, conversation_id: str, text: str, count: int) -> bool:
    bodies = await _bodies(who, conversation_id)
    return [b for d, b in bodies if d == "OUTBOUND" and b == text] == [text] * count


async def _settle(who: Member, conversation_id: str) -> None:
    import asyncio

    await asyncio.sleep(1.5)
    assert [b for d, b in await _bodies(who, conversation_id) if d == "OUTBOUND"] == [
        "We are closed; we answer from 9:00."
    ]
