"""Customers known by a business-scoped user id (a WhatsApp username hides their number) are
stored, shown, matched to the contact of their number when both are known, and reachable by
replies (Meta's `recipient`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from app.models.messaging import Contact, WebhookEvent
from tests.fakes.graph_api import FakeGraphApi, signed, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, CloudDevice, cloud_device, fake, post, status_of
from tests.support.messaging import Member, eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

USER_ID = "US.13491208655302741918"
CONVERSATIONS = """
query($deviceId: ID) {
  conversations(deviceId: $deviceId) {
    nodes {
      id
      contact { phoneNumber userId username name }
      messages(last: 10) { nodes { body direction } }
    }
  }
}
"""
CONTACT = "query($id: ID!) { node(id: $id) { ... on Conversation { contact { id } } } }"
ERASE = """
mutation($input: ContactIdInput!) {
  deleteContact(input: $input) { deletedContactId userErrors { field code } }
}
"""
SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id } userErrors { field message code } }
}
"""


async def _deliver(
    device: CloudDevice, body: str, *, wa_id: str | None, user_id: str | None, username: str
) -> None:
    message: dict[str, Any] = {
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    }
    contact: dict[str, Any] = {"profile": {"name": "Ana", "username": username}}
    if wa_id is not None:
        message["from"] = wa_id
        contact["wa_id"] = wa_id
    if user_id is not None:
        message["from_user_id"] = user_id
        contact["user_id"] = user_id
    value = {"contacts": [contact], "messages": [message]}
    payload, headers = signed(APP_SECRET, webhook_envelope(device.phone_number_id, value))
    assert await post(device.webhook_url, payload, headers) == 200


async def _conversations(who: Member, device: CloudDevice, count: int) -> list[dict[str, Any]]:
    async def stored() -> list[dict[str, Any]] | None:
        nodes: list[dict[str, Any]] = (await who.api.data(CONVERSATIONS, {"deviceId": device.id}))[
            "conversations"
        ]["nodes"]
        return nodes if sum(len(n["messages"]["nodes"]) for n in nodes) >= count else None

    result: list[dict[str, Any]] = await eventually(stored)
    return result


async def test_a_customer_known_only_by_user_id_is_stored_shown_and_reachable_by_replies(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)

    await _deliver(device, "Hi, I hide my number", wa_id=None, user_id=USER_ID, username="@ana")

    [conversation] = await _conversations(owner, device, 1)
    assert conversation["contact"] == {
        "phoneNumber": None,
        "userId": USER_ID,
        "username": "@ana",
        "name": "Ana",
    }
    sent = await owner.api.data(
        SEND, {"input": {"conversationId": conversation["id"], "text": "Hello Ana"}}
    )
    assert sent["sendMessage"]["userErrors"] == []
    await status_of(owner, sent["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")
    [send] = fake.sends_to(USER_ID)
    assert send.body["recipient"] == USER_ID and "to" not in send.body


async def test_a_user_id_and_a_number_of_the_same_customer_make_one_contact(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)

    await _deliver(device, "first, by number", wa_id="16505550901", user_id=None, username="@bo")
    await _conversations(owner, device, 1)
    await _deliver(device, "second, both", wa_id="16505550901", user_id=USER_ID, username="@bo")
    await _conversations(owner, device, 2)
    await _deliver(device, "third, user id only", wa_id=None, user_id=USER_ID, username="@bo2")

    [conversation] = await _conversations(owner, device, 3)
    assert conversation["contact"] == {
        "phoneNumber": "+16505550901",
        "userId": USER_ID,
        "username": "@bo2",
        "name": "Ana",
    }
    assert [m["body"] for m in conversation["messages"]["nodes"]] == [
        "first, by number",
        "second, both",
        "third, user id only",
    ]


async def test_a_contact_known_by_user_id_learns_its_number_when_meta_shares_it(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)

    await _deliver(device, "hidden", wa_id=None, user_id=USER_ID, username="@cy")
    await _conversations(owner, device, 1)
    await _deliver(device, "shared", wa_id="16505550902", user_id=USER_ID, username="@cy")

    [conversation] = await _conversations(owner, device, 2)
    assert conversation["contact"]["phoneNumber"] == "+16505550902"
    assert conversation["contact"]["userId"] == USER_ID


async def test_a_user_id_change_moves_the_contact_to_its_new_user_id(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    await _deliver(device, "hello", wa_id=None, user_id=USER_ID, username="@di")
    await _conversations(owner, device, 1)
    new_user_id = "US.99887766554433221100"
    system = {
        "from_user_id": USER_ID,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "system",
        "system": {
            "body": "User A changed their user id",
            "type": "user_changed_user_id",
            "user_id": new_user_id,
        },
    }

    payload, headers = signed(
        APP_SECRET, webhook_envelope(device.phone_number_id, {"messages": [system]})
    )
    assert await post(device.webhook_url, payload, headers) == 200

    async def moved() -> bool:
        [conversation] = await _conversations(owner, device, 2)
        return bool(conversation["contact"]["userId"] == new_user_id)

    await eventually(moved)  # the SYSTEM message is stored, then applied
    await _deliver(device, "after the change", wa_id=None, user_id=new_user_id, username="@di")
    [conversation] = await _conversations(owner, device, 3)
    assert conversation["messages"]["nodes"][-1]["body"] == "after the change"


async def test_erasing_a_contact_known_by_user_id_deletes_the_deliveries_that_named_it(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    await _deliver(device, "erase me", wa_id=None, user_id=USER_ID, username="@ed")
    [conversation] = await _conversations(owner, device, 1)
    contact = (await owner.api.data(CONTACT, {"id": conversation["id"]}))["node"]["contact"]
    mine = WebhookEvent.filter(organization_id=owner.organization_id, raw_body__contains=USER_ID)
    assert await mine.exists()

    erased = await owner.api.data(ERASE, {"input": {"contactId": contact["id"], "confirm": True}})

    assert erased["deleteContact"]["userErrors"] == []
    assert not await mine.exists()
    assert not await Contact.exists(organization_id=owner.organization_id, user_id=USER_ID)
