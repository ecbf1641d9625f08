"""Labels: ADMIN manages the organization's list, AGENT sets them on conversations, everyone
filters the inbox by them."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import gql

from app.models.accounts import Role
from tests.support.client import Api
from tests.support.messaging import (
    member,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

CREATE_LABEL = """
mutation($input: CreateLabelInput!) {
  createLabel(input: $input) { label { id name color } userErrors { field message code } }
}
"""
SET_LABELS = """
mutation($input: SetConversationLabelsInput!) {
  setConversationLabels(input: $input) {
    conversation { id labels { name color } }
    userErrors { field message code }
  }
}
"""
LABELS = "{ labels { id name color } }"
BY_LABEL = """
query($labelId: ID) { conversations(labelId: $labelId) { nodes { id labels { name } } } }
"""
CONVERSATION_EVENTS = (
    "subscription { conversationEvents { kind conversation { id labels { name } } } }"
)


async def test_an_admin_creates_labels_and_an_agent_sets_them_on_a_conversation(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    admin = await member(server, api, Role.ADMIN, owner.organization_id)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    device_id = await sandbox_device(owner)
    first = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]
    second = (await simulate(owner, device_id, unique_phone(), "Hello"))["conversation"]["id"]

    urgent = (
        await admin.api.data(CREATE_LABEL, {"input": {"name": "Urgent", "color": "#ef4444"}})
    )["createLabel"]["label"]
    billing = (await admin.api.data(CREATE_LABEL, {"input": {"name": "Billing"}}))["createLabel"][
        "label"
    ]
    labelled = await agent.api.data(
        SET_LABELS, {"input": {"conversationId": first, "labelIds": [urgent["id"], billing["id"]]}}
    )
    await agent.api.data(
        SET_LABELS, {"input": {"conversationId": second, "labelIds": [billing["id"]]}}
    )

    assert (urgent["color"], billing["color"]) == ("#EF4444", "#6B7280")
    assert labelled["setConversationLabels"]["conversation"]["labels"] == [
        {"name": "Billing", "color": "#6B7280"},
        {"name": "Urgent", "color": "#EF4444"},
    ]
    assert [label["name"] for label in (await viewer.api.data(LABELS))["labels"]] == [
        "Billing",
        "Urgent",
    ]
    urgent_ones = await viewer.api.data(BY_LABEL, {"labelId": urgent["id"]})
    billing_ones = await viewer.api.data(BY_LABEL, {"labelId": billing["id"]})
    assert [node["id"] for node in urgent_ones["conversations"]["nodes"]] == [first]
    assert {node["id"] for node in billing_ones["conversations"]["nodes"]} == {first, second}

    cleared = await agent.api.data(SET_LABELS, {"input": {"conversationId": first, "labelIds": []}})
    assert cleared["setConversationLabels"]["conversation"]["labels"] == []
    assert (await viewer.api.data(BY_LABEL, {"labelId": urgent["id"]}))["conversations"][
        "nodes"
    ] == []


async def test_labels_are_managed_by_admins_set_by_agents_and_kept_to_their_organization(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    stranger = await member(server, api)
    device_id = await sandbox_device(owner)
    conversation = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]
    mine = (await owner.api.data(CREATE_LABEL, {"input": {"name": "VIP"}}))["createLabel"]["label"]
    theirs = (await stranger.api.data(CREATE_LABEL, {"input": {"name": "VIP"}}))["createLabel"][
        "label"
    ]

    by_agent = await agent.api.call(CREATE_LABEL, {"input": {"name": "Mine"}})
    by_viewer = await viewer.api.call(
        SET_LABELS, {"input": {"conversationId": conversation, "labelIds": [mine["id"]]}}
    )
    foreign_label = await owner.api.data(
        SET_LABELS, {"input": {"conversationId": conversation, "labelIds": [theirs["id"]]}}
    )
    foreign_conversation = await stranger.api.data(
        SET_LABELS, {"input": {"conversationId": conversation, "labelIds": [theirs["id"]]}}
    )
    taken = await owner.api.data(CREATE_LABEL, {"input": {"name": "VIP"}})
    bad_color = await owner.api.data(CREATE_LABEL, {"input": {"name": "Red", "color": "red"}})

    assert by_agent["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    [error] = foreign_label["setConversationLabels"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "labelIds"], "NOT_FOUND")
    [error] = foreign_conversation["setConversationLabels"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "conversationId"], "NOT_FOUND")
    assert taken["createLabel"]["userErrors"][0]["code"] == "TAKEN"
    assert bad_color["createLabel"]["userErrors"][0]["field"] == ["input", "color"]
    assert [label["name"] for label in (await stranger.api.data(LABELS))["labels"]] == ["VIP"]
    node = await stranger.api.data("query($id: ID!) { node(id: $id) { id } }", {"id": mine["id"]})
    assert node["node"] is None


async def _take(session: Any, into: list[Any], n: int) -> None:
    async for event in session.subscribe(gql(CONVERSATION_EVENTS)):
        into.append(event)
        if len(into) >= n:
            return


async def test_labelling_a_conversation_is_published_as_a_conversation_update(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    conversation = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]
    label = (await owner.api.data(CREATE_LABEL, {"input": {"name": "Sales"}}))["createLabel"][
        "label"
    ]
    seen: list[Any] = []

    async with owner.api.websocket() as session:
        watching = asyncio.create_task(_take(session, seen, 1))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:conversations")
        await owner.api.data(
            SET_LABELS, {"input": {"conversationId": conversation, "labelIds": [label["id"]]}}
        )
        await asyncio.wait_for(watching, timeout=20)

    assert seen == [
        {
            "conversationEvents": {
                "kind": "UPDATED",
                "conversation": {"id": conversation, "labels": [{"name": "Sales"}]},
            }
        }
    ]
