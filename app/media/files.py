"""Taking a file in (sniffed, checked against Meta's limits, stored once per organization and
content) and letting it go when nothing refers to it any more."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

import structlog
from tortoise.exceptions import IntegrityError

from app.media import kinds
from app.media.storage import storage_for
from app.models.media import MediaFile, MediaKind
from app.models.messaging import Message
from app.platform.config import Settings

log = structlog.get_logger("parley.media")

HASH_CHUNK = 1024 * 1024
MAX_FILE_NAME = 255
_KIND_NAMES = {
    MediaKind.IMAGE: "An image",
    MediaKind.VIDEO: "A video",
    MediaKind.AUDIO: "An audio file",
    MediaKind.DOCUMENT: "A document",
    MediaKind.STICKER: "A sticker",
}
ACCEPTED = (
    "images (JPEG, PNG, 5 MB), videos (MP4, 3GPP, 16 MB), audio (AAC, AMR, MP3, M4A, OGG/Opus, "
    "16 MB), documents (PDF, Word, Excel, PowerPoint, plain text, 100 MB) and stickers (WebP, "
    "100 KB, animated 500 KB)"
)


class MediaRefused(Exception):
    """A file WhatsApp would not take; the message says why, for a userError."""


class FileTooLarge(MediaRefused):
    pass


class UnsupportedType(MediaRefused):
    pass


@dataclass(frozen=True)
class Measured:
    sha256: str
    size: int


def _measure(file: IO[bytes]) -> Measured:
    file.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := file.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return Measured(digest.hexdigest(), size)


def _size_of(file: IO[bytes]) -> int:
    position = file.tell()
    file.seek(0, 2)
    size = file.tell()
    file.seek(position)
    return size


async def store_upload(
    settings: Settings, organization_id: int, file: IO[bytes], file_name: str | None
) -> MediaFile:
    """A member's upload: its kind from its bytes, refused (MediaRefused) when WhatsApp would
    not take it. ``file`` is seekable (a spooled temporary file): it is read twice, in chunks,
    once to hash it and once into the storage, and never held whole."""
    file.seek(0)
    head = file.read(kinds.SNIFF_BYTES)
    sniffed = kinds.sniff(head, file, file_name)
    limit = (
        kinds.limit_for(sniffed.mime_type, animated=sniffed.animated) if sniffed.mime_type else None
    )
    if sniffed.mime_type is None or limit is None:
        raise UnsupportedType(
            f"WhatsApp does not take this kind of file (its content was checked, not its "
            f"name). It takes {ACCEPTED}."
        )
    size = _size_of(file)
    if size == 0:
        raise UnsupportedType("The file is empty.")
    if size > limit.max_bytes:
        raise FileTooLarge(
            f"{_KIND_NAMES[limit.kind]} ({sniffed.mime_type}) is at most "
            f"{_human(limit.max_bytes)} on WhatsApp; this one is {_human(size)}."
        )
    return await _keep(
        settings, organization_id, file, limit.kind, sniffed.mime_type, _clean_name(file_name)
    )


async def store_received(
    settings: Settings,
    organization_id: int,
    file: IO[bytes],
    *,
    kind: MediaKind,
    declared_mime_type: str | None,
    file_name: str | None,
) -> MediaFile:
    """A file a customer sent (downloaded from Meta): kept as the message's kind, with the
    sniffed type when Parley recognizes it and Meta's word for it otherwise."""
    file.seek(0)
    sniffed = kinds.sniff(file.read(kinds.SNIFF_BYTES), file, file_name)
    mime_type = sniffed.mime_type or (declared_mime_type or "application/octet-stream")
    return await _keep(settings, organization_id, file, kind, mime_type, _clean_name(file_name))


async def _keep(
    settings: Settings,
    organization_id: int,
    file: IO[bytes],
    kind: MediaKind,
    mime_type: str,
    file_name: str | None,
) -> MediaFile:
    measured = await asyncio.to_thread(_measure, file)
    storage = storage_for(settings)
    existing = await MediaFile.get_or_none(organization_id=organization_id, sha256=measured.sha256)
    if existing is not None and await storage.exists(existing.storage_key):
        if file_name and not existing.file_name:
            existing.file_name = file_name
            await existing.save(update_fields=["file_name", "updated_at"])
        return existing
    key = f"{organization_id}/{measured.sha256}"
    file.seek(0)
    await storage.put(key, file, mime_type)
    if existing is not None:  # its object was gone: stored again above
        return existing
    try:
        return await MediaFile.create(
            organization_id=organization_id,
            kind=kind,
            mime_type=mime_type,
            size=measured.size,
            file_name=file_name,
            sha256=measured.sha256,
            storage_key=key,
        )
    except IntegrityError:  # the same bytes, stored meanwhile by another request
        return await MediaFile.get(organization_id=organization_id, sha256=measured.sha256)


async def delete_unreferenced(
    settings: Settings, organization_id: int, media_ids: Iterable[int]
) -> list[int]:
    """Delete the files among ``media_ids`` (of this organization) that no message carries
    any more, rows and stored objects; returns the ids deleted. Call it after deleting
    messages (or the contact or conversation they were in) with the ids they carried."""
    wanted = {media_id for media_id in media_ids if media_id is not None}
    if not wanted:
        return []
    referenced = set(
        await Message.filter(media_id__in=wanted).distinct().values_list("media_id", flat=True)
    )
    files = await MediaFile.filter(organization_id=organization_id, id__in=wanted - referenced)
    storage = storage_for(settings)
    for media_file in files:
        await MediaFile.filter(id=media_file.id).delete()
        await storage.delete(media_file.storage_key)
    if files:
        log.info("media.deleted", organization_id=organization_id, count=len(files))
    return [media_file.id for media_file in files]


def _clean_name(file_name: str | None) -> str | None:
    if not file_name:
        return None
    # A browser may send a path; only its last part is the name.
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:MAX_FILE_NAME] or None


def _human(size: int) -> str:
    if size >= kinds.MB:
        return f"{size / kinds.MB:.1f} MB".replace(".0 MB", " MB")
    return f"{size / kinds.KB:.0f} KB"
