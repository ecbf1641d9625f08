"""Uploading files as browsers do (the GraphQL multipart request spec), and sample files."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.messaging import Member

UPLOAD = """
mutation($input: UploadMediaInput!) {
  uploadMedia(input: $input) {
    mediaFile { id kind mimeType size fileName sha256 url }
    userErrors { field message code }
  }
}
"""


async def upload(
    who: Member,
    file: bytes | Path | IO[bytes],
    file_name: str,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    """``uploadMedia`` as apollo-upload-client sends it: ``operations`` (the query, the file
    variable null), ``map`` (which part fills it), then the file part; the file streams."""
    operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
    mapping = {"0": ["variables.input.file"]}
    handle = file.open("rb") if isinstance(file, Path) else file
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            return await client.post(
                who.api.graphql_url,
                headers={"Authorization": f"Bearer {who.token}"} if who.token else {},
                data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
                files={"0": (file_name, handle, content_type)},
            )
    finally:
        if isinstance(file, Path) and not isinstance(handle, bytes):
            handle.close()


async def uploaded(who: Member, data: bytes, file_name: str) -> dict[str, Any]:
    """The payload of an upload that must succeed."""
    response = await upload(who, data, file_name)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["uploadMedia"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def png(width: int = 2, height: int = 2, seed: int = 0) -> bytes:
    """A real PNG of ``width`` × ``height`` grey pixels (``seed`` varies the bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([(seed + y) % 256]) * width for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def ogg_voice_note(size: int = 20_000, seed: int = 1) -> bytes:
    """Bytes that begin like an Ogg/Opus voice note."""
    head = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead\x01\x01"
    body = bytes((seed * 31 + i * 7) % 256 for i in range(size - len(head)))
    return head + body


def executable() -> bytes:
    """A Windows executable's first bytes (MZ, then its PE header)."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 400 + b"PE\x00\x00"
