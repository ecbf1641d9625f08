"""Media end to end, through GraphQL against the fake Graph API: uploads over the multipart
spec, sends by Meta media id, inbound files downloaded and served by signed links."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from gql import gql

from app.platform import clock
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.graph_media import media_message
from tests.support.client import Api
from tests.support.cloud_api import (
    APP_SECRET,
    CloudDevice,
    cloud_device,
    fake,
    inbound,
    post,
    status_of,
)
from tests.support.media import executable, ogg_voice_note, png, upload, uploaded
from tests.support.messaging import (
    Member,
    eventually,
    member,
    sandbox_device,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id type body payload status media { id kind mimeType } }
    userErrors { field message code }
  }
}
"""
MESSAGE = """
query($id: ID!) {
  node(id: $id) {
    ... on Message {
      id type body payload status
      media { id kind mimeType size fileName sha256 url }
    }
  }
}
"""
MEDIA_FILE = """
query($id: ID!) { node(id: $id) { ... on MediaFile { id url } } }
"""
LATEST = """
query($id: ID!) {
  node(id: $id) { ... on Conversation { messages(last: 1) { nodes { id type } } } }
}
"""
SIMULATE = """
mutation($input: SimulateInboundMessageInput!) {
  simulateInboundMessage(input: $input) {
    message { id type body payload media { id kind mimeType sha256 url } conversation { id } }
    userErrors { field message code }
  }
}
"""
MESSAGE_EVENTS = """
subscription($deviceId: ID) {
  messageEvents(deviceId: $deviceId) { kind message { id media { id sha256 } } }
}
"""


def _wa_id() -> str:
    return f"1650555{uuid.uuid4().int % 10_000:04d}"


async def _latest_message(owner: Member, conversation_id: str, kind: str = "AUDIO") -> str:
    """The conversation's latest message once it is a ``kind`` (the webhook is processed)."""

    async def latest() -> str | None:
        data = await owner.api.data(LATEST, {"id": conversation_id})
        [node] = data["node"]["messages"]["nodes"]
        return str(node["id"]) if node["type"] == kind else None

    message_id: str = await eventually(latest)
    return message_id


async def _media_of(owner: Member, message_id: str, within: float = 15) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        node = (await owner.api.data(MESSAGE, {"id": message_id}))["node"]
        return node if node["media"] is not None else None

    result: dict[str, Any] = await eventually(ready, within=within)
    return result


async def test_an_uploaded_png_is_sent_by_the_id_meta_gave_it_uploaded_once_per_device(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wa_id = _wa_id()
    conversation_id = await inbound(owner, fake, device, wa_id)
    image = png(seed=7)

    stored = (await uploaded(owner, image, "holiday.png"))["mediaFile"]
    assert stored["kind"] == "IMAGE"
    assert stored["mimeType"] == "image/png"
    assert stored["size"] == len(image)
    assert stored["sha256"] == hashlib.sha256(image).hexdigest()
    assert stored["fileName"] == "holiday.png"

    media = {"kind": "IMAGE", "mediaFileId": stored["id"], "caption": "Our place"}
    sent = (
        await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "media": media}})
    )["sendMessage"]
    assert sent["userErrors"] == []
    assert sent["message"]["media"] == {
        "id": stored["id"],
        "kind": "IMAGE",
        "mimeType": "image/png",
    }
    await status_of(owner, sent["message"]["id"], "SENT", "DELIVERED", "READ")

    [meta_upload] = fake.media.uploads
    assert meta_upload.phone_number_id == device.phone_number_id
    assert meta_upload.mime_type == "image/png"
    assert meta_upload.data == image
    [send] = fake.sends_to(wa_id)
    assert send.type == "image"
    assert send.body["image"] == {"id": meta_upload.media_id, "caption": "Our place"}

    again = await owner.api.data(
        SEND, {"input": {"conversationId": conversation_id, "media": {**media, "caption": "2"}}}
    )
    await status_of(owner, again["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")
    assert len(fake.media.uploads) == 1  # Meta's id is remembered for the device
    assert fake.sends_to(wa_id)[-1].body["image"]["id"] == meta_upload.media_id


async def test_the_same_bytes_are_stored_once_per_organization(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    other = await member(server, api)
    image = png(seed=11)
    first = (await uploaded(owner, image, "a.png"))["mediaFile"]
    second = (await uploaded(owner, image, "b.png"))["mediaFile"]
    theirs = (await uploaded(other, image, "a.png"))["mediaFile"]
    assert first["id"] == second["id"]
    assert theirs["id"] != first["id"]


async def test_a_file_too_large_or_not_what_its_name_says_is_refused_with_user_errors(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    large = png(seed=3) + b"\x00" * (6 * 1024 * 1024)  # a 6 MB image
    response = await upload(owner, large, "big.png", "image/png")
    assert response.status_code == 200
    payload = response.json()["data"]["uploadMedia"]
    assert payload["mediaFile"] is None
    [error] = payload["userErrors"]
    assert error["field"] == ["input", "file"]
    assert error["code"] == "LIMIT_EXCEEDED"
    assert "5 MB" in error["message"] and "6 MB" in error["message"]

    response = await upload(owner, executable(), "cute-cat.png", "image/png")
    payload = response.json()["data"]["uploadMedia"]
    assert payload["mediaFile"] is None
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (["input", "file"], "INVALID")
    assert "content" in error["message"]


async def test_only_a_signed_in_member_uploads_and_plain_graphql_keeps_its_small_body_limit(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    anonymous = Member(api, owner.user_id, owner.organization_id, token="")
    refused = await upload(anonymous, png(), "a.png")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # A JSON request as large as an image is refused before it is read.
    padding = "x" * (2 * 1024 * 1024)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            server.graphql_url,
            headers={"Authorization": f"Bearer {owner.token}"},
            json={"query": "{ __typename }", "variables": {"padding": padding}},
        )
    assert response.status_code == 413
    # The same size as a multipart upload goes through (a 2 MB document).
    document = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    stored = (await uploaded(owner, document, "report.pdf"))["mediaFile"]
    assert (stored["kind"], stored["mimeType"]) == ("DOCUMENT", "application/pdf")
    # A CSV file for importContacts stays bounded like CSV text: only media stream to storage.
    operations = {
        "query": "mutation($f: Upload!) { importContacts(input: {file: $f}) "
        "{ contactImport { id } userErrors { field code message } } }",
        "variables": {"f": None},
    }
    csv = b"phone_number\n" + b"+16505550100\n" * (2 * 1024 * 1024 // 13)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            server.graphql_url,
            headers={"Authorization": f"Bearer {owner.token}"},
            data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
            files={"0": ("contacts.csv", csv, "text/csv")},
        )
    [error] = response.json()["data"]["importContacts"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "file"], "INVALID")


async def _voice_note_webhook(
    fake: FakeGraphApi, device: CloudDevice, wa_id: str, note: bytes
) -> None:
    stored = fake.media.add_inbound(device.phone_number_id, note, "audio/ogg; codecs=opus")
    message = media_message("audio", stored, voice=True)
    from tests.fakes.graph_api import inbound_webhook, signed

    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, message=message)
    )
    assert await post(device.webhook_url, body, headers) == 200


async def test_an_inbound_voice_note_is_downloaded_and_served_by_a_signed_link_to_its_organization(
    server: RunningServer, api: Api, fake: FakeGraphApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(server, api)
    outsider = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wa_id = _wa_id()
    conversation_id = await inbound(owner, fake, device, wa_id)
    note = ogg_voice_note(seed=5)
    events: list[dict[str, Any]] = []

    async def listen(session: Any) -> None:
        async for event in session.subscribe(
            gql(MESSAGE_EVENTS), variable_values={"deviceId": device.id}
        ):
            events.append(event["messageEvents"])
            if event["messageEvents"]["kind"] == "UPDATED":
                return

    async with owner.api.websocket() as session:
        listening = asyncio.create_task(listen(session))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:messages")
        await _voice_note_webhook(fake, device, wa_id, note)
        await asyncio.wait_for(listening, timeout=20)

    message_id = await _latest_message(owner, conversation_id)
    message = await _media_of(owner, message_id)
    assert events[-1] == {
        "kind": "UPDATED",
        "message": {
            "id": message_id,
            "media": {"id": message["media"]["id"], "sha256": message["media"]["sha256"]},
        },
    }
    assert message["type"] == "AUDIO"
    assert message["body"] == "Voice message"
    assert message["payload"]["voice"] is True
    media = message["media"]
    assert media["kind"] == "AUDIO"
    assert media["mimeType"] == "audio/ogg"
    assert media["size"] == len(note)
    assert media["sha256"] == hashlib.sha256(note).hexdigest()

    async with httpx.AsyncClient() as browser:  # an <audio src>: no Authorization header
        whole = await browser.get(media["url"])
        assert whole.status_code == 200
        assert whole.headers["content-type"] == "audio/ogg"
        assert hashlib.sha256(whole.content).hexdigest() == hashlib.sha256(note).hexdigest()
        part = await browser.get(media["url"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(note)}"
        assert part.content == note[100:200]

        altered = media["url"].replace("signature=", "signature=0")
        assert (await browser.get(altered)).status_code == 403
        expires = int(media["url"].split("expires=")[1].split("&")[0])
        extended = media["url"].replace(f"expires={expires}", f"expires={expires + 3600}")
        assert (await browser.get(extended)).status_code == 403
        unsigned = media["url"].split("?")[0]
        assert (await browser.get(unsigned)).status_code == 403

        later = clock.now() + timedelta(hours=1, minutes=1)
        monkeypatch.setattr(clock, "now", lambda: later)
        assert (await browser.get(media["url"])).status_code == 403

    # Another organization sees neither the message nor the file.
    assert (await outsider.api.data(MESSAGE, {"id": message_id}))["node"] is None
    assert (await outsider.api.data(MEDIA_FILE, {"id": media["id"]}))["node"] is None


async def test_an_expired_media_url_is_asked_for_again_and_a_lost_file_says_why(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wa_id = _wa_id()
    conversation_id = await inbound(owner, fake, device, wa_id)

    fake.media.expire_next_urls(1)
    note = ogg_voice_note(seed=9)
    await _voice_note_webhook(fake, device, wa_id, note)
    message = await _media_of(owner, await _latest_message(owner, conversation_id), within=20)
    assert message["media"]["sha256"] == hashlib.sha256(note).hexdigest()

    # A media id Meta does not know (deleted, or past its 30 days): the message says so.
    from tests.fakes.graph_api import inbound_webhook, signed

    lost = {"type": "image", "image": {"id": "404404404", "mime_type": "image/jpeg", "sha256": "x"}}
    body, headers = signed(APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, message=lost))
    assert await post(device.webhook_url, body, headers) == 200

    message_id = await _latest_message(owner, conversation_id, "IMAGE")

    async def failed() -> dict[str, Any] | None:
        node = (await owner.api.data(MESSAGE, {"id": message_id}))["node"]
        return node if "media_error" in node["payload"] else None

    node = await eventually(failed, within=20)
    assert node["media"] is None
    assert "does not exist" in node["payload"]["media_error"]


async def test_a_sandbox_customer_sends_a_file_and_the_inbox_sends_one_back(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    note = ogg_voice_note(seed=13)
    stored = (await uploaded(owner, note, "note.ogg"))["mediaFile"]
    assert (stored["kind"], stored["mimeType"]) == ("AUDIO", "audio/ogg")

    data = await owner.api.data(
        SIMULATE,
        {"input": {"deviceId": device_id, "from": f"+{_wa_id()}", "mediaFileId": stored["id"]}},
    )
    result = data["simulateInboundMessage"]
    assert result["userErrors"] == []
    received = result["message"]
    assert received["type"] == "AUDIO"
    assert received["body"] == "Voice message"
    assert received["media"]["id"] == stored["id"]
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(received["media"]["url"])).content == note

    image = (await uploaded(owner, png(seed=21), "reply.png"))["mediaFile"]
    reply = await owner.api.data(
        SEND,
        {
            "input": {
                "conversationId": received["conversation"]["id"],
                "media": {"kind": "IMAGE", "mediaFileId": image["id"]},
            }
        },
    )
    assert reply["sendMessage"]["userErrors"] == []
    await status_of(owner, reply["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")

    wrong_kind = await owner.api.data(
        SEND,
        {
            "input": {
                "conversationId": received["conversation"]["id"],
                "media": {"kind": "VIDEO", "mediaFileId": image["id"]},
            }
        },
    )
    [error] = wrong_kind["sendMessage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "media", "kind"], "INVALID")


DELETE_DEVICE = """
mutation($input: DeleteDeviceInput!) {
  deleteDevice(input: $input) { deletedDeviceId userErrors { field code } }
}
"""


async def test_a_file_goes_with_the_last_message_that_carried_it(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wa_id = _wa_id()
    conversation_id = await inbound(owner, fake, device, wa_id)
    from tests.fakes.graph_api import inbound_webhook, signed

    note = ogg_voice_note(seed=23)
    customer_file = fake.media.add_inbound(device.phone_number_id, note, "audio/ogg")
    wamid = f"wamid.VOICE{uuid.uuid4().hex}"
    voice = media_message("audio", customer_file, voice=True)
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, message=voice, wamid=wamid)
    )
    assert await post(device.webhook_url, body, headers) == 200
    message = await _media_of(owner, await _latest_message(owner, conversation_id))
    media = message["media"]
    stored = server.settings.var_dir / "media" / str(owner.organization_id) / media["sha256"]
    assert stored.read_bytes() == note

    # The customer deletes it for everyone: the message stays, its file goes.
    revoke = {"type": "revoke", "revoke": {"original_message_id": wamid}}
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, message=revoke)
    )
    assert await post(device.webhook_url, body, headers) == 200

    async def deleted() -> dict[str, Any] | None:
        node = (await owner.api.data(MESSAGE, {"id": message["id"]}))["node"]
        return node if node["media"] is None else None

    await eventually(deleted)

    async def gone() -> bool:
        return not stored.exists()

    await eventually(gone)
    assert (await owner.api.data(MEDIA_FILE, {"id": media["id"]}))["node"] is None
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(media["url"])).status_code == 403

    # A device's messages go with it, and the files only they carried.
    sandbox = await sandbox_device(owner)
    image = png(seed=41)
    kept = png(seed=43)
    sent_file = (await uploaded(owner, image, "sent.png"))["mediaFile"]
    unsent_file = (await uploaded(owner, kept, "draft.png"))["mediaFile"]
    data = await owner.api.data(
        SIMULATE, {"input": {"deviceId": sandbox, "from": f"+{_wa_id()}", "text": "Hi"}}
    )
    sandbox_conversation = data["simulateInboundMessage"]["message"]["conversation"]["id"]
    sent = await owner.api.data(
        SEND,
        {
            "input": {
                "conversationId": sandbox_conversation,
                "media": {"kind": "IMAGE", "mediaFileId": sent_file["id"]},
            }
        },
    )
    await status_of(owner, sent["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")
    deleted_device = await owner.api.data(DELETE_DEVICE, {"input": {"deviceId": sandbox}})
    assert deleted_device["deleteDevice"]["userErrors"] == []
    assert (await owner.api.data(MEDIA_FILE, {"id": sent_file["id"]}))["node"] is None
    assert (await owner.api.data(MEDIA_FILE, {"id": unsent_file["id"]}))["node"] is not None
    folder = server.settings.var_dir / "media" / str(owner.organization_id)
    assert not (folder / hashlib.sha256(image).hexdigest()).exists()
    assert (folder / hashlib.sha256(kept).hexdigest()).exists()
