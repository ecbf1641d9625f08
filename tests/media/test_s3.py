"""The S3 path: the same uploads, sends and inbound files with PARLEY_STORAGE_URL=s3://…,
against a real S3-protocol server on loopback (moto's, checking presigned URLs as S3 does)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.graph_api import FakeGraphApi, inbound_webhook, signed
from tests.fakes.graph_media import media_message
from tests.fakes.s3_server import S3Server
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, cloud_device, inbound, post, status_of
from tests.support.media import ogg_voice_note, png, uploaded
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer, make_settings, run_server

BUCKET = "parley-media"
PREFIX = "tenant-a"
URL_TTL = 2  # seconds: long enough to use a link, short enough to see it expire

SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id } userErrors { field message code } }
}
"""
LATEST = """
query($id: ID!) {
  node(id: $id) {
    ... on Conversation {
      messages(last: 1) { nodes { id type media { id mimeType sha256 url } } }
    }
  }
}
"""
NODE = """
query($id: ID!) { node(id: $id) { id } }
"""


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture(scope="module")
async def s3_server(
    s3: S3Server, server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningServer]:
    """A Parley server keeping its files in S3. Its own embedded Redis (so its jobs are its
    own); the session server's database (one ORM per process), migrated already."""
    settings = make_settings(
        tmp_path_factory.mktemp("s3var"),
        redis_url=None,
        database_url=server.settings.resolved_database_url,
        storage_url=f"s3://{BUCKET}/{PREFIX}",
        media_url_ttl_seconds=URL_TTL,
        **s3.settings(),
    )
    async with run_server(settings, migrate=False) as running:
        yield running


@pytest.fixture
async def graph(
    s3_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi(app_secret=APP_SECRET, status_delay=0.01) as fake:
        monkeypatch.setattr(s3_server.settings, "whatsapp_graph_url", fake.base_url)
        yield fake


async def test_on_s3_an_upload_is_sent_and_an_inbound_voice_note_is_served_by_a_presigned_url(
    s3: S3Server, s3_server: RunningServer, graph: FakeGraphApi
) -> None:
    api = Api(s3_server.graphql_url)
    owner = await member(s3_server, api)
    outsider = await member(s3_server, api)
    device = await cloud_device(s3_server, graph, owner)
    wa_id = f"1650555{uuid.uuid4().int % 10_000:04d}"
    conversation_id = await inbound(owner, graph, device, wa_id)

    image = png(seed=31)
    stored = (await uploaded(owner, image, "menu.png"))["mediaFile"]
    key = f"{PREFIX}/{owner.organization_id}/{hashlib.sha256(image).hexdigest()}"
    head = s3.client().head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(image)
    assert head["ContentType"] == "image/png"

    sent = await owner.api.data(
        SEND,
        {
            "input": {
                "conversationId": conversation_id,
                "media": {"kind": "IMAGE", "mediaFileId": stored["id"]},
            }
        },
    )
    await status_of(owner, sent["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")
    [meta_upload] = graph.media.uploads
    assert meta_upload.data == image
    assert graph.sends_to(wa_id)[-1].body["image"] == {"id": meta_upload.media_id}

    note = ogg_voice_note(seed=17)
    customer_file = graph.media.add_inbound(device.phone_number_id, note, "audio/ogg")
    message = media_message("audio", customer_file, voice=True)
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, message=message)
    )
    assert await post(device.webhook_url, body, headers) == 200

    async def attached() -> dict[str, Any] | None:
        data = await owner.api.data(LATEST, {"id": conversation_id})
        [node] = data["node"]["messages"]["nodes"]
        # The voice note, once its webhook is processed and its file downloaded.
        return node if node["type"] == "AUDIO" and node["media"] is not None else None

    node = await eventually(attached, within=20)
    media = node["media"]
    assert media["sha256"] == hashlib.sha256(note).hexdigest()
    assert media["url"].startswith(f"{s3.endpoint_url}/{BUCKET}/{PREFIX}/")
    assert "X-Amz-Signature=" in media["url"]

    async with httpx.AsyncClient() as browser:
        served = await browser.get(media["url"])
        assert served.status_code == 200
        assert served.headers["content-type"] == "audio/ogg"
        assert hashlib.sha256(served.content).hexdigest() == media["sha256"]
        part = await browser.get(media["url"], headers={"Range": "bytes=0-3"})
        assert (part.status_code, part.content) == (206, b"OggS")
        altered = media["url"].replace("X-Amz-Signature=", "X-Amz-Signature=0")
        assert (await browser.get(altered)).status_code == 403
        await asyncio.sleep(URL_TTL + 1.5)
        assert (await browser.get(media["url"])).status_code == 403

    assert (await outsider.api.data(NODE, {"id": node["id"]}))["node"] is None
    assert (await outsider.api.data(NODE, {"id": media["id"]}))["node"] is None
