"""Contacts edited, tagged, filtered, exported and erased through GraphQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from app.models.accounts import AuditEvent, Role
from app.models.inbox import ConversationNote, MessageReaction
from app.models.messaging import Contact, Conversation, Message, WebhookEvent
from app.platform.ids import decode_id, to_global_id
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import cloud_device, fake, inbound
from tests.support.messaging import Member, member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

CREATE = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { field code } }
}
"""
UPDATE = """
mutation($input: UpdateContactInput!) {
  updateContact(input: $input) {
    contact { id name tags attributes lastSeenAt }
    userErrors { field message code }
  }
}
"""
ADD_TAGS = """
mutation($input: ContactTagsInput!) {
  addContactTags(input: $input) { contact { tags } userErrors { field code } }
}
"""
REMOVE_TAGS = """
mutation($input: ContactTagsInput!) {
  removeContactTags(input: $input) { contact { tags } userErrors { field code } }
}
"""
DELETE = """
mutation($input: ContactIdInput!) {
  deleteContact(input: $input) { deletedContactId userErrors { field message code } }
}
"""
EXPORT = """
mutation($input: ExportContactsInput) {
  exportContacts(input: $input) { csv count userErrors { field code } }
}
"""
__all__ = ["fake"]  # the fixture, used by name

FILTERED = """
query($filter: ContactFilterInput) {
  contacts(first: 50, filter: $filter) { nodes { phoneNumber } }
}
"""
THREAD = """
query($id: ID!) {
  node(id: $id) { ... on Conversation { messages(last: 5) { nodes { id } } } }
}
"""
NOTE = """
mutation($input: AddConversationNoteInput!) {
  addConversationNote(input: $input) { note { id } userErrors { code } }
}
"""


async def _contact(who: Member, name: str, tags: list[str], **attributes: Any) -> dict[str, str]:
    phone = unique_phone()
    data = await who.api.data(
        CREATE,
        {"input": {"phoneNumber": phone, "name": name, "tags": tags, "attributes": attributes}},
    )
    assert data["createContact"]["userErrors"] == []
    return {"id": data["createContact"]["contact"]["id"], "phone": phone}


async def _phones(who: Member, **where: Any) -> set[str]:
    data = await who.api.data(FILTERED, {"filter": where})
    return {node["phoneNumber"] for node in data["contacts"]["nodes"]}


async def test_an_agent_updates_a_contacts_name_tags_and_attributes(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    ana = await _contact(owner, "Ana", ["lead"], plan="silver", city="Lisbon")

    data = await agent.api.data(
        UPDATE,
        {
            "input": {
                "contactId": ana["id"],
                "name": "Ana Lima",
                "tags": ["VIP", "customer"],
                "attributes": {"plan": "gold", "city": None, "seats": 5},
            }
        },
    )
    added = await agent.api.data(ADD_TAGS, {"input": {"contactId": ana["id"], "tags": ["Renewal"]}})
    removed = await agent.api.data(
        REMOVE_TAGS, {"input": {"contactId": ana["id"], "tags": ["vip"]}}
    )

    contact = data["updateContact"]["contact"]
    assert data["updateContact"]["userErrors"] == []
    assert (contact["name"], contact["tags"]) == ("Ana Lima", ["vip", "customer"])
    assert contact["attributes"] == {"plan": "gold", "seats": 5}
    assert added["addContactTags"]["contact"]["tags"] == ["vip", "customer", "renewal"]
    assert removed["removeContactTags"]["contact"]["tags"] == ["customer", "renewal"]
    assert await _phones(owner, tags=["renewal"]) == {ana["phone"]}


async def test_contact_changes_are_refused_to_viewers_and_across_organizations(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    stranger = await member(server, api)
    ana = await _contact(owner, "Ana", [])

    by_viewer = await viewer.api.call(UPDATE, {"input": {"contactId": ana["id"], "name": "X"}})
    by_stranger = await stranger.api.data(UPDATE, {"input": {"contactId": ana["id"], "name": "X"}})
    tags_by_stranger = await stranger.api.data(
        ADD_TAGS, {"input": {"contactId": ana["id"], "tags": ["x"]}}
    )
    delete_by_agent = await agent.api.call(
        DELETE, {"input": {"contactId": ana["id"], "confirm": True}}
    )
    delete_by_stranger = await stranger.api.data(
        DELETE, {"input": {"contactId": ana["id"], "confirm": True}}
    )
    bad_tag = await owner.api.data(ADD_TAGS, {"input": {"contactId": ana["id"], "tags": ["a,b"]}})

    assert by_viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert by_stranger["updateContact"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert tags_by_stranger["addContactTags"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert delete_by_agent["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert delete_by_stranger["deleteContact"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert bad_tag["addContactTags"]["userErrors"][0]["code"] == "INVALID"
    assert (await Contact.get(id=decode_id(ana["id"], "Contact"))).name == "Ana"


async def test_contacts_are_filtered_by_tags_attributes_opt_out_and_last_seen(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    device_id = await sandbox_device(owner)
    gold = await _contact(owner, "Gold", ["vip", "lead"], plan="gold", seats=5)
    silver = await _contact(owner, "Silver", ["lead"], plan="silver", seats=5)
    quiet = await _contact(owner, "Quiet", ["vip"], plan="gold")
    await simulate(owner, device_id, gold["phone"], "Hello")
    await simulate(owner, device_id, silver["phone"], "STOP")
    await _contact(await member(server, api), "Elsewhere", ["vip"], plan="gold")
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    assert await _phones(viewer, tags=["vip", "lead"]) == {gold["phone"]}
    assert await _phones(viewer, anyTags=["vip", "nobody"]) == {gold["phone"], quiet["phone"]}
    assert await _phones(viewer, attributes={"plan": "gold"}) == {gold["phone"], quiet["phone"]}
    assert await _phones(viewer, attributes={"plan": "gold", "seats": 5}) == {gold["phone"]}
    assert await _phones(viewer, optedOut=True) == {silver["phone"]}
    assert await _phones(viewer, optedOut=False, tags=["lead"]) == {gold["phone"]}
    assert await _phones(viewer, lastSeenAfter=hour_ago, lastSeenBefore=soon) == {
        gold["phone"],
        silver["phone"],
    }
    assert await _phones(viewer, neverSeen=True) == {quiet["phone"]}
    assert await _phones(viewer, lastSeenAfter=soon) == set()
    refused = await viewer.api.call(FILTERED, {"filter": {"attributes": {"a'b": "x"}}})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_admin_exports_contacts_as_csv_that_import_reads_back(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    gold = await _contact(owner, "=HYPERLINK(1)", ["vip"], plan="gold")
    bruno = await _contact(owner, "Bruno", ["lead"], plan="silver", note="likes, commas")
    await _contact(await member(server, api), "Elsewhere", ["vip"])

    everyone = await owner.api.data(EXPORT, {})
    vips = await owner.api.data(EXPORT, {"input": {"filter": {"tags": ["vip"]}}})
    refused = await agent.api.call(EXPORT, {})

    rows = list(csv.reader(io.StringIO(everyone["exportContacts"]["csv"])))
    assert rows[0] == ["phone_number", "name", "tags", "note", "plan"]
    assert everyone["exportContacts"]["count"] == 2
    assert sorted(rows[1:]) == sorted(
        [
            [gold["phone"], "'=HYPERLINK(1)", "vip", "", "gold"],
            [bruno["phone"], "Bruno", "lead", "likes, commas", "silver"],
        ]
    )
    assert vips["exportContacts"]["count"] == 1
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    [audit] = (
        await AuditEvent.filter(organization_id=owner.organization_id, kind="contacts.exported")
        .order_by("id")
        .limit(1)
    )
    assert audit.data == {"count": 2}


async def test_deleting_a_contact_erases_it_with_its_conversations_and_messages(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    phone = "+16505550701"
    conversation_id = await inbound(owner, fake, device, phone.removeprefix("+"))
    [message] = (await owner.api.data(THREAD, {"id": conversation_id}))["node"]["messages"]["nodes"]
    await owner.api.data(NOTE, {"input": {"conversationId": conversation_id, "body": "Call back"}})
    kept = await simulate(owner, await sandbox_device(owner), unique_phone(), "I stay")
    contact_pk = (await Conversation.get(id=decode_id(conversation_id, "Conversation"))).contact_id
    contact_id = to_global_id("Contact", contact_pk)
    message_pk = decode_id(message["id"], "Message")
    await MessageReaction.create(
        organization_id=owner.organization_id,
        message_id=message_pk,
        direction="OUTBOUND",
        emoji="👍",
        reacted_at=datetime.now(UTC),
    )
    assert await WebhookEvent.filter(
        organization_id=owner.organization_id, raw_body__contains=phone.removeprefix("+")
    ).exists()

    unconfirmed = await owner.api.data(DELETE, {"input": {"contactId": contact_id}})
    erased = await owner.api.data(DELETE, {"input": {"contactId": contact_id, "confirm": True}})
    again = await owner.api.data(DELETE, {"input": {"contactId": contact_id, "confirm": True}})

    assert unconfirmed["deleteContact"]["userErrors"][0]["field"] == ["input", "confirm"]
    assert erased["deleteContact"] == {"deletedContactId": contact_id, "userErrors": []}
    assert again["deleteContact"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert not await Contact.exists(id=contact_pk)
    assert not await Conversation.exists(contact_id=contact_pk)
    assert not await Message.exists(id=message_pk)
    assert not await MessageReaction.exists(message_id=message_pk)
    assert not await ConversationNote.exists(
        conversation_id=decode_id(conversation_id, "Conversation")
    )
    assert not await WebhookEvent.filter(
        organization_id=owner.organization_id, raw_body__contains=phone.removeprefix("+")
    ).exists()
    assert await Message.exists(id=decode_id(kept["id"], "Message"))
    [audit] = await AuditEvent.filter(organization_id=owner.organization_id, kind="contact.erased")
    assert audit.actor_id == owner.user_id
    assert phone.removeprefix("+") not in str(audit.data) and "Hi there" not in str(audit.data)
    assert audit.data["contact_id"] == contact_pk
    assert (audit.data["conversations"], audit.data["messages"], audit.data["notes"]) == (1, 1, 1)
