"""What a file is comes from its bytes: each kind WhatsApp takes, and the sticker limits."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from tests.support.client import Api
from tests.support.media import upload
from tests.support.messaging import member
from tests.support.server import RunningServer

KB = 1024


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _webp(size: int, *, animated: bool) -> bytes:
    if animated:
        chunk = b"VP8X" + struct.pack("<I", 10) + bytes([0x02]) + b"\x00" * 9
    else:
        chunk = b"VP8 " + struct.pack("<I", 10) + b"\x00" * 10
    body = b"WEBP" + chunk
    body += b"\x00" * (size - 8 - len(body))
    return b"RIFF" + struct.pack("<I", len(body)) + body


SAMPLES = [
    # (file name, bytes, kind, MIME type): names that lie are on purpose.
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 100, "IMAGE", "image/jpeg"),
    ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "VIDEO", "video/mp4"),
    ("clip.3gp", b"\x00\x00\x00\x18ftyp3gp4" + b"\x00" * 100, "VIDEO", "video/3gpp"),
    ("song.m4a", b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 100, "AUDIO", "audio/mp4"),
    ("memo.amr", b"#!AMR\n" + b"\x00" * 100, "AUDIO", "audio/amr"),
    ("song.mp3", b"ID3\x03\x00" + b"\x00" * 100, "AUDIO", "audio/mpeg"),
    ("song.aac", b"\xff\xf1\x50\x80" + b"\x00" * 100, "AUDIO", "audio/aac"),
    (
        "letter.docx",
        _docx(),
        "DOCUMENT",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("notes.txt", "Order #42: 3 × café\n".encode() * 10, "DOCUMENT", "text/plain"),
    ("invoice.jpg", b"%PDF-1.7\n" + b"0" * 100, "DOCUMENT", "application/pdf"),
    ("sticker.webp", _webp(50 * KB, animated=False), "STICKER", "image/webp"),
    ("dancing.webp", _webp(300 * KB, animated=True), "STICKER", "image/webp"),
]


@pytest.mark.parametrize(
    ("name", "data", "kind", "mime_type"), SAMPLES, ids=[s[0] for s in SAMPLES]
)
async def test_the_kind_comes_from_the_content(
    server: RunningServer, api: Api, name: str, data: bytes, kind: str, mime_type: str
) -> None:
    owner = await member(server, api)
    response = await upload(owner, data, name)
    payload = response.json()["data"]["uploadMedia"]
    assert payload["userErrors"] == []
    assert (payload["mediaFile"]["kind"], payload["mediaFile"]["mimeType"]) == (kind, mime_type)


async def test_a_static_sticker_over_100_kb_is_refused(server: RunningServer, api: Api) -> None:
    owner = await member(server, api)
    response = await upload(owner, _webp(150 * KB, animated=False), "big.webp")
    [error] = response.json()["data"]["uploadMedia"]["userErrors"]
    assert error["code"] == "LIMIT_EXCEEDED"
    assert "100 KB" in error["message"]
    animated = await upload(owner, _webp(600 * KB, animated=True), "long.webp")
    [error] = animated.json()["data"]["uploadMedia"]["userErrors"]
    assert "500 KB" in error["message"]
