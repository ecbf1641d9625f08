"""The media endpoints of the fake Graph API (CLOUD_API.md, "Media (detail)").

- ``POST /{version}/{phone-number-id}/media``, multipart ``file`` (with its content type),
  ``type`` and ``messaging_product=whatsapp`` → ``{"id"}``; a file over Meta's limit for its
  type, or of a type Meta does not take, is error 131053.
- ``GET /{version}/{media-id}`` → ``{messaging_product, url, mime_type, sha256, file_size,
  id}``; the url works for 5 minutes (``url_ttl``), with the number's token.
- ``DELETE /{version}/{media-id}`` → ``{"success": true}``.
- ``GET /download/{media-id}?expires=…`` (the url): the bytes, for the number's token; an
  expired url is 404 with Meta's error body.

Files a customer sends are put here with ``add_inbound`` before their webhook names them.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from tests.fakes.graph_api import FakeGraphApi

KB, MB = 1024, 1024 * 1024
# Meta's limits by MIME type (CLOUD_API.md).
LIMITS = {
    "image/jpeg": 5 * MB,
    "image/png": 5 * MB,
    "video/mp4": 16 * MB,
    "video/3gpp": 16 * MB,
    "audio/aac": 16 * MB,
    "audio/amr": 16 * MB,
    "audio/mpeg": 16 * MB,
    "audio/mp4": 16 * MB,
    "audio/ogg": 16 * MB,
    "application/pdf": 100 * MB,
    "application/msword": 100 * MB,
    "application/vnd.ms-excel": 100 * MB,
    "application/vnd.ms-powerpoint": 100 * MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * MB,
    "text/plain": 100 * MB,
    "image/webp": 500 * KB,
}
MEDIA_UPLOAD_ERROR = 131053

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class StoredMedia:
    media_id: str
    phone_number_id: str
    mime_type: str
    data: bytes
    file_name: str | None
    uploaded: bool  # True: uploaded by the business; False: sent by a customer

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class GraphMedia:
    def __init__(self, fake: FakeGraphApi, *, url_ttl: float = 300.0) -> None:
        self._fake = fake
        self.url_ttl = url_ttl
        self._lock = threading.Lock()
        self._media: dict[str, StoredMedia] = {}
        self._expire_next = 0
        # What the fake saw, for assertions.
        self.uploads: list[StoredMedia] = []
        self.downloads: list[str] = []  # media ids whose bytes were served
        self.deleted: list[str] = []

    def routes(self, fallback: Handler) -> list[Route]:
        """Before the fake's ``GET /{version}/{id}`` of a phone number: a media id is answered
        here, anything else by ``fallback``."""

        async def by_id(request: Request) -> Response:
            # One path for both: the segment is a media id or a phone number id.
            if request.path_params["phone_number_id"] in self._media:
                return await (self._retrieve if request.method == "GET" else self._delete)(request)
            return await fallback(request)

        return [
            Route("/{version}/{phone_number_id}/media", self._upload, methods=["POST"]),
            Route("/download/{media_id}", self._download, methods=["GET"]),
            Route("/{version}/{phone_number_id}", by_id, methods=["GET", "DELETE"]),
        ]

    # -- set-up -----------------------------------------------------------------------------

    def add_inbound(
        self, phone_number_id: str, data: bytes, mime_type: str, file_name: str | None = None
    ) -> StoredMedia:
        """A file a customer sent to ``phone_number_id``: its id goes in the webhook."""
        media = StoredMedia(_media_id(), phone_number_id, mime_type, data, file_name, False)
        with self._lock:
            self._media[media.media_id] = media
        return media

    def expire_next_urls(self, count: int = 1) -> None:
        """The next ``count`` urls handed out by ``GET /{media-id}`` have already expired."""
        with self._lock:
            self._expire_next += count

    def reset(self) -> None:
        with self._lock:
            self._media.clear()
            self.uploads.clear()
            self.downloads.clear()
            self.deleted.clear()
            self._expire_next = 0

    # -- the Graph API ----------------------------------------------------------------------

    def _authorized(self, request: Request, phone_number_id: str) -> Response | None:
        from tests.fakes.graph_api import _error

        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        numbers = self._fake._numbers
        if not token or token not in {n.token for n in numbers.values()}:
            return _error(190)
        number = numbers.get(phone_number_id)
        if number is None or number.token != token:
            return _error(100, f"Object with ID '{phone_number_id}' does not exist")
        return None

    async def _upload(self, request: Request) -> Response:
        from tests.fakes.graph_api import _error

        phone_number_id = request.path_params["phone_number_id"]
        if refused := self._authorized(request, phone_number_id):
            return refused
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _error(100, "the upload must be multipart/form-data")
        form = await request.form(max_part_size=1024 * 1024)
        file, kind, product = form.get("file"), form.get("type"), form.get("messaging_product")
        if product != "whatsapp":
            return _error(100, "messaging_product must be whatsapp")
        if not isinstance(file, UploadFile) or not isinstance(kind, str) or not kind:
            return _error(100, "file and type are required")
        data = await file.read()
        limit = LIMITS.get(kind)
        if limit is None:
            return _error(
                MEDIA_UPLOAD_ERROR,
                f"Param file must be a file with one of the supported types; {kind} is not",
            )
        if len(data) > limit:
            return _error(
                MEDIA_UPLOAD_ERROR,
                f"File is too big: {len(data)} bytes, the limit for {kind} is {limit} bytes",
            )
        media = StoredMedia(_media_id(), phone_number_id, kind, data, file.filename, True)
        with self._lock:
            self._media[media.media_id] = media
            self.uploads.append(media)
        return JSONResponse({"id": media.media_id})

    async def _retrieve(self, request: Request) -> Response:
        media = self._media[request.path_params["phone_number_id"]]
        if refused := self._authorized(request, media.phone_number_id):
            return refused
        with self._lock:
            expired = self._expire_next > 0
            self._expire_next -= 1 if expired else 0
        expires = int(time.time() + (-1 if expired else self.url_ttl))
        url = f"{self._fake.base_url}/download/{media.media_id}?expires={expires}"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": len(media.data),
                "id": media.media_id,
            }
        )

    async def _delete(self, request: Request) -> Response:
        media = self._media[request.path_params["phone_number_id"]]
        if refused := self._authorized(request, media.phone_number_id):
            return refused
        with self._lock:
            self._media.pop(media.media_id, None)
            self.deleted.append(media.media_id)
        return JSONResponse({"success": True})

    async def _download(self, request: Request) -> Response:
        from tests.fakes.graph_api import _error

        media = self._media.get(request.path_params["media_id"])
        if media is None:
            return _error(100, "Unsupported get request", status=404)
        if refused := self._authorized(request, media.phone_number_id):
            return refused
        expires = request.query_params.get("expires", "")
        if not expires.lstrip("-").isdigit() or int(expires) < time.time():
            return _error(100, "URL signature expired", status=404)
        with self._lock:
            self.downloads.append(media.media_id)
        return Response(media.data, media_type=media.mime_type)


def _media_id() -> str:
    return str(uuid.uuid4().int % 10**16)


def media_message(kind: str, media: StoredMedia, **extra: Any) -> dict[str, Any]:
    """The message object of an inbound media webhook, e.g. ``media_message("audio", m,
    voice=True)`` for a voice note."""
    body = {"id": media.media_id, "mime_type": media.mime_type, "sha256": media.sha256}
    return {"type": kind, kind: body | extra}
