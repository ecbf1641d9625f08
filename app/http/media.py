"""``GET /media/{id}?expires=…&signature=…``: a stored file, for whoever holds a current link
(app.media.links), with its content type and byte ranges (what ``<audio>`` and ``<video>``
ask for). Anything else is 403, and the same 403 whether the file exists or not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.media import links
from app.media.storage import ObjectMissing, storage_for
from app.models.media import MediaFile
from app.platform.config import Settings

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


async def serve_media(request: Request) -> Response:
    settings: Settings = request.app.state.runtime.settings
    media_id: int = request.path_params["media_id"]
    expires = request.query_params.get("expires", "")
    signature = request.query_params.get("signature", "")
    if not links.valid(settings, media_id, expires, signature):
        return Response("This link is not valid or has expired.\n", 403, media_type="text/plain")
    media_file = await MediaFile.get_or_none(id=media_id)
    if media_file is None:
        return Response("This link is not valid or has expired.\n", 403, media_type="text/plain")
    size = media_file.size
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if media_file.file_name:
        headers["Content-Disposition"] = _inline(media_file.file_name)
    start, end, status = 0, size, 200
    requested = request.headers.get("range")
    if requested is not None:
        parsed = _byte_range(requested, size)
        if parsed is None:
            return Response(
                status_code=416, headers={"Content-Range": f"bytes */{size}", **headers}
            )
        start, end = parsed
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    storage = storage_for(settings)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_file.mime_type)
    chunks = storage.read(media_file.storage_key, start, end if end < size else None)
    try:
        first = await anext(chunks, b"")
    except ObjectMissing:
        return Response("This file is no longer stored.\n", 410, media_type="text/plain")
    return StreamingResponse(
        _prepend(first, chunks),
        status_code=status,
        headers=headers,
        media_type=media_file.mime_type,
    )


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """One range of ``Range: bytes=a-b`` as [start, end); None when it cannot be served."""
    match = _RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        return (max(size - length, 0), size) if length else None
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    return (start, end) if start < end else None


def _inline(file_name: str) -> str:
    ascii_name = file_name.encode("ascii", "replace").decode().replace('"', "")
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name)}"
