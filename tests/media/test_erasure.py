"""The right to erasure reaches everything the inbox keeps of a contact (issue 20, must show 2):
after `deleteContact`, no row, stored file, search entry or inbox change of theirs remains."""

from __future__ import annotations

from app.models.inbox_sync import InboxChange
from app.models.media import MediaFile
from app.models.messaging import Contact, Conversation, Message
from app.platform.ids import decode_id
from tests.support.client import Api
from tests.support.media import png, uploaded
from tests.support.messaging import member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

SIMULATE = """
mutation($input: SimulateInboundMessageInput!) {
  simulateInboundMessage(input: $input) {
    message { id media { id sha256 } conversation { id contact { id } } }
    userErrors { field message code }
  }
}
"""
SEARCH = """
query($query: String!) {
  searchMessages(query: $query) { nodes { id body } }
  searchContacts(query: $query) { nodes { id } }
}
"""
DELETE_CONTACT = """
mutation($input: ContactIdInput!) {
  deleteContact(input: $input) { deletedContactId userErrors { field message code } }
}
"""


async def test_an_erased_contact_leaves_no_file_search_entry_or_inbox_change(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    photo = png(seed=77)
    stored = (await uploaded(owner, photo, "receipt.png"))["mediaFile"]
    sent = await owner.api.data(
        SIMULATE,
        {
            "input": {
                "deviceId": device_id,
                "from": customer,
                "text": "zebracaption receipt",
                "mediaFileId": stored["id"],
            }
        },
    )
    assert sent["simulateInboundMessage"]["userErrors"] == []
    message = sent["simulateInboundMessage"]["message"]
    await simulate(owner, device_id, customer, "zebratext where is my order")
    contact_id = message["conversation"]["contact"]["id"]
    conversation_pk = decode_id(message["conversation"]["id"], "Conversation")
    media_pk = decode_id(stored["id"], "MediaFile")
    stored_object = (
        server.settings.var_dir / "media" / str(owner.organization_id) / stored["sha256"]
    )
    before = await owner.api.data(SEARCH, {"query": "zebratext"})
    assert len(before["searchMessages"]["nodes"]) == 1
    assert stored_object.read_bytes() == photo
    assert await InboxChange.exists(conversation_id=conversation_pk)

    erased = await owner.api.data(
        DELETE_CONTACT, {"input": {"contactId": contact_id, "confirm": True}}
    )

    assert erased["deleteContact"]["userErrors"] == []
    for words in ("zebratext", "zebracaption", customer.removeprefix("+")):
        found = await owner.api.data(SEARCH, {"query": words})
        assert found["searchMessages"]["nodes"] == [], words
        assert found["searchContacts"]["nodes"] == [], words
    assert not await Contact.exists(id=decode_id(contact_id, "Contact"))
    assert not await Conversation.exists(id=conversation_pk)
    assert not await Message.exists(conversation_id=conversation_pk)
    assert not await InboxChange.exists(conversation_id=conversation_pk)
    assert not await MediaFile.exists(id=media_pk)
    assert not stored_object.exists()
