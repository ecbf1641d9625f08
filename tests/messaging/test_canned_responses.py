"""Canned responses: ADMIN saves them, agents find them by shortcut and send them rendered on
the server; a variable without a value is a userError, never an empty gap."""

from __future__ import annotations

from app.models.accounts import Role, User
from tests.support.client import Api
from tests.support.messaging import Member, member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

CREATE = """
mutation($input: CreateCannedResponseInput!) {
  createCannedResponse(input: $input) {
    cannedResponse { id shortcut body }
    userErrors { field message code }
  }
}
"""
SEARCH = "query($search: String) { cannedResponses(search: $search) { nodes { shortcut } } }"
SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id body type } userErrors { field message code } }
}
"""
UPDATE_CONTACT = """
mutation($input: UpdateContactInput!) { updateContact(input: $input) { userErrors { code } } }
"""
CONTACT = """
query($id: ID!) { node(id: $id) { ... on Conversation { contact { id } } } }
"""


async def _canned(who: Member, shortcut: str, body: str) -> str:
    data = await who.api.data(CREATE, {"input": {"shortcut": shortcut, "body": body}})
    assert data["createCannedResponse"]["userErrors"] == []
    canned_id: str = data["createCannedResponse"]["cannedResponse"]["id"]
    return canned_id


async def test_an_agent_sends_a_canned_response_rendered_for_the_contact(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    await User.filter(id=agent.user_id).update(name="Bea")
    device_id = await sandbox_device(owner)
    conversation = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]
    contact_id = (await owner.api.data(CONTACT, {"id": conversation}))["node"]["contact"]["id"]
    await owner.api.data(
        UPDATE_CONTACT,
        {"input": {"contactId": contact_id, "name": "Ana", "attributes": {"plan": "Gold"}}},
    )
    greeting = await _canned(
        owner,
        "/hello",
        "Hi {{contact.name}}, {{ agent.name }} here. Your {{contact.attributes.plan}} plan "
        "is active.",
    )

    sent = await agent.api.data(
        SEND, {"input": {"conversationId": conversation, "cannedResponseId": greeting}}
    )

    assert sent["sendMessage"]["userErrors"] == []
    assert sent["sendMessage"]["message"]["type"] == "TEXT"
    assert sent["sendMessage"]["message"]["body"] == "Hi Ana, Bea here. Your Gold plan is active."


async def test_a_variable_without_a_value_is_a_user_error_and_nothing_is_sent(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    conversation = (await simulate(owner, device_id, unique_phone(), "Hi"))["conversation"]["id"]
    canned = await _canned(owner, "renewal", "Your plan {{contact.attributes.plan}} renews soon.")

    sent = await owner.api.data(
        SEND, {"input": {"conversationId": conversation, "cannedResponseId": canned}}
    )
    both = await owner.api.data(
        SEND, {"input": {"conversationId": conversation, "cannedResponseId": canned, "text": "x"}}
    )

    [error] = sent["sendMessage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "cannedResponseId"], "INVALID")
    assert "{{contact.attributes.plan}}" in error["message"]
    assert sent["sendMessage"]["message"] is None
    assert both["sendMessage"]["userErrors"][0]["code"] == "INVALID"


async def test_canned_responses_are_found_by_shortcut_within_the_organization(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    stranger = await member(server, api)
    await _canned(owner, "hours", "We open at 9.")
    await _canned(owner, "holidays", "Closed on the 25th.")
    await _canned(owner, "refund", "Refunds take 5 days.")
    await _canned(stranger, "house", "Theirs.")

    found = await viewer.api.data(SEARCH, {"search": "/ho"})
    every = await viewer.api.data(SEARCH, {})

    assert sorted(n["shortcut"] for n in found["cannedResponses"]["nodes"]) == ["holidays", "hours"]
    assert len(every["cannedResponses"]["nodes"]) == 3


async def test_canned_responses_are_managed_by_admins_and_kept_to_their_organization(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    stranger = await member(server, api)
    canned = await _canned(owner, "hours", "We open at 9.")
    device_id = await sandbox_device(stranger)
    theirs = (await simulate(stranger, device_id, unique_phone(), "Hi"))["conversation"]["id"]

    by_agent = await agent.api.call(CREATE, {"input": {"shortcut": "mine", "body": "x"}})
    taken = await owner.api.data(CREATE, {"input": {"shortcut": "HOURS", "body": "again"}})
    unknown = await owner.api.data(CREATE, {"input": {"shortcut": "x", "body": "{{order.id}}"}})
    foreign = await stranger.api.data(
        SEND, {"input": {"conversationId": theirs, "cannedResponseId": canned}}
    )

    assert by_agent["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert taken["createCannedResponse"]["userErrors"][0]["code"] == "TAKEN"
    [error] = unknown["createCannedResponse"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "body"], "INVALID")
    [error] = foreign["sendMessage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "cannedResponseId"], "NOT_FOUND")
