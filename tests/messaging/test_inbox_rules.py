from __future__ import annotations

from app.models.accounts import Role
from tests.support.client import Api
from tests.support.messaging import (
    CREATE_DEVICE,
    SEND,
    member,
    sandbox_device,
    simulate,
    unique_phone,
)
from tests.support.server import RunningServer

CONVERSATION = """
query($id: ID!) { node(id: $id) { ... on Conversation { id unreadCount status } } }
"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) {
    contact { id phoneNumber tags optedOut }
    userErrors { field message code }
  }
}
"""
CONTACTS = """
query($search: String, $tags: [String!]) {
  contacts(search: $search, tags: $tags) { nodes { phoneNumber optedOut } }
}
"""
CLOSE = """
mutation($input: CloseConversationInput!) {
  closeConversation(input: $input) { conversation { status } userErrors { message } }
}
"""


async def test_another_organizations_conversation_is_not_found(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    device_id = await sandbox_device(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "Hi")
    conversation_id = inbound["conversation"]["id"]

    seen = await stranger.api.data(CONVERSATION, {"id": conversation_id})
    reply = await stranger.api.data(
        SEND, {"input": {"conversationId": conversation_id, "text": "Not yours"}}
    )

    assert seen["node"] is None
    assert reply["sendMessage"]["message"] is None
    assert [e["code"] for e in reply["sendMessage"]["userErrors"]] == ["NOT_FOUND"]


async def test_a_contact_number_that_is_not_e164_is_a_user_error_naming_the_field(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)

    result = await owner.api.data(CREATE_CONTACT, {"input": {"phoneNumber": "12345"}})

    assert result["createContact"]["contact"] is None
    [error] = result["createContact"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "phoneNumber"], "INVALID")
    assert "E.164" in error["message"]


async def test_contacts_are_unique_per_organization_and_searchable_by_tag(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    phone = unique_phone()
    created = await owner.api.data(
        CREATE_CONTACT, {"input": {"phoneNumber": phone, "tags": ["VIP", "lead"]}}
    )

    again = await owner.api.data(CREATE_CONTACT, {"input": {"phoneNumber": phone}})
    by_tag = await owner.api.data(CONTACTS, {"tags": ["vip"]})

    assert created["createContact"]["contact"]["tags"] == ["vip", "lead"]
    assert [e["code"] for e in again["createContact"]["userErrors"]] == ["TAKEN"]
    assert [c["phoneNumber"] for c in by_tag["contacts"]["nodes"]] == [phone]


async def test_the_same_client_message_id_returns_the_same_message_sent_once(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "Hi")
    request = {
        "input": {
            "conversationId": inbound["conversation"]["id"],
            "text": "Once only",
            "clientMessageId": "client-key-1",
        }
    }

    first = await owner.api.data(SEND, request)
    second = await owner.api.data(SEND, request)

    assert first["sendMessage"]["message"]["id"] == second["sendMessage"]["message"]["id"]
    from app.models.messaging import Message

    assert (
        await Message.filter(
            organization_id=owner.organization_id, client_message_id="client-key-1"
        ).count()
        == 1
    )


async def test_free_text_outside_the_service_window_needs_a_template(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)

    text = await owner.api.data(
        SEND, {"input": {"deviceId": device_id, "to": unique_phone(), "text": "Hello?"}}
    )
    template = await owner.api.data(
        SEND,
        {
            "input": {
                "deviceId": device_id,
                "to": unique_phone(),
                "template": {"name": "hello_world", "language": "en_US"},
            }
        },
    )

    [error] = text["sendMessage"]["userErrors"]
    assert error["field"] == ["input", "text"] and "template" in error["message"]
    assert template["sendMessage"]["message"]["status"] == "QUEUED"


async def test_inbound_messages_count_unread_and_reopen_a_closed_conversation(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    first = await simulate(owner, device_id, customer, "One")
    conversation_id = first["conversation"]["id"]
    await owner.api.data(CLOSE, {"input": {"conversationId": conversation_id}})

    await simulate(owner, device_id, customer, "Two")

    node = (await owner.api.data(CONVERSATION, {"id": conversation_id}))["node"]
    assert (node["unreadCount"], node["status"]) == (2, "OPEN")


async def test_stop_opts_a_contact_out_and_start_opts_it_back_in(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = unique_phone()

    await simulate(owner, device_id, customer, "stop")
    after_stop = await owner.api.data(CONTACTS, {"search": customer})
    await simulate(owner, device_id, customer, "START")
    after_start = await owner.api.data(CONTACTS, {"search": customer})

    assert after_stop["contacts"]["nodes"][0]["optedOut"] is True
    assert after_start["contacts"]["nodes"][0]["optedOut"] is False


async def test_an_agent_cannot_create_devices(server: RunningServer, api: Api) -> None:
    agent = await member(server, api, role=Role.AGENT)

    result = await agent.api.call(
        CREATE_DEVICE,
        {"input": {"name": "x", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
    )

    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
