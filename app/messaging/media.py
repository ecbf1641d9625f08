"""Media between Parley's storage and Meta: a file uploaded once per device for a send, and a
customer's file downloaded, checked and attached to its message.

- ``meta_media_id(settings, device, media_file)``: the id Meta knows the file by on this
  device, uploading it (``POST /{phone-number-id}/media``) when it has none younger than 29
  days; a SANDBOX device needs no upload. The send job calls it; template headers can too.
- ``download_later(queues, message)`` / ``download_inbound(...)``: the DOWNLOAD_MEDIA job
  asks Meta for the media's short-lived url (``GET /{media-id}``), downloads it with the
  device's token, checks its sha256, stores it (app.media) and attaches it to the message; a
  ``messageEvents`` UPDATED tells the inbox. A download that keeps failing leaves
  ``payload.media_error`` on the message, saying why.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import tempfile
from typing import IO, TYPE_CHECKING

import structlog

from app.media import MediaRefused, kinds, storage_for, store_received
from app.messaging.jobs import DOWNLOAD_MEDIA
from app.messaging.providers import provider_for
from app.models.media import META_MEDIA_TTL, MediaFile, MediaKind, MetaMedia
from app.models.messaging import Device, Message, MessageType, Provider
from app.platform import clock, events
from app.platform.config import Settings
from app.whatsapp.cloud_api import CloudApiProvider
from app.whatsapp.errors import FailureReason, ProviderError

if TYPE_CHECKING:
    from app.platform.queues import Queues
    from app.platform.runtime import Runtime

log = structlog.get_logger("parley.messaging")

DOWNLOAD_RETRIES = 4
DOWNLOAD_TIMEOUT = 600
MEDIA_MESSAGE_TYPES = {
    MessageType.IMAGE: MediaKind.IMAGE,
    MessageType.VIDEO: MediaKind.VIDEO,
    MessageType.AUDIO: MediaKind.AUDIO,
    MessageType.DOCUMENT: MediaKind.DOCUMENT,
    MessageType.STICKER: MediaKind.STICKER,
}


async def meta_media_id(settings: Settings, device: Device, media_file: MediaFile) -> str:
    """The Meta media id of ``media_file`` on ``device`` (uploaded now if it has none that is
    still usable). Raises ProviderError as the upload's answer says (131053: refused)."""
    if device.provider is Provider.SANDBOX:
        return f"SANDBOX.{media_file.sha256[:32]}"
    now = clock.now()
    known = await MetaMedia.get_or_none(media_file_id=media_file.id, device_id=device.id)
    if known is not None and known.usable(now):
        return known.meta_media_id
    provider = provider_for(settings, device)
    assert isinstance(provider, CloudApiProvider)
    with tempfile.TemporaryFile() as copy:
        async for chunk in storage_for(settings).read(media_file.storage_key):
            await asyncio.to_thread(copy.write, chunk)
        copy.seek(0)
        name = media_file.file_name or f"file.{kinds.extension_of(media_file.mime_type)}"
        media_id = await provider.upload_media(copy, media_file.mime_type, name)
    expires_at = now + META_MEDIA_TTL
    if known is not None:
        await MetaMedia.filter(id=known.id).update(meta_media_id=media_id, expires_at=expires_at)
    else:
        await MetaMedia.update_or_create(
            {"meta_media_id": media_id, "expires_at": expires_at},
            media_file_id=media_file.id,
            device_id=device.id,
        )
    log.info("messaging.media_uploaded", device_id=device.id, media_file_id=media_file.id)
    return media_id


def awaits_download(device: Device, message: Message) -> bool:
    return (
        device.provider is Provider.CLOUD_API
        and message.type in MEDIA_MESSAGE_TYPES
        and message.media_id is None
        and isinstance(message.payload.get("id"), str)
    )


async def download_later(queues: Queues, device: Device, message: Message | None) -> None:
    """Queue the download of an inbound message's file, when it has one to fetch."""
    if message is None or not awaits_download(device, message):
        return
    await queues.enqueue(
        DOWNLOAD_MEDIA,
        key=f"download-media:{message.id}",
        message_id=message.id,
        retries=DOWNLOAD_RETRIES,
        retry_delay=1.0,
        retry_backoff=True,
        timeout=DOWNLOAD_TIMEOUT,
    )


class MediaMismatch(Exception):
    pass


async def download_inbound(runtime: Runtime, message_id: int, *, last_try: bool) -> None:
    """Fetch, check, store and attach an inbound message's file (the DOWNLOAD_MEDIA job)."""
    message = await Message.get_or_none(id=message_id)
    if message is None:
        return  # deleted since, with its conversation or contact
    device = await Device.get(id=message.device_id)
    if not awaits_download(device, message):
        return
    try:
        media_file = await _fetch(runtime.settings, device, message)
    except (ProviderError, MediaMismatch, MediaRefused) as error:
        retryable = isinstance(error, MediaMismatch) or (
            isinstance(error, ProviderError) and error.retryable
        )
        log.warning(
            "messaging.media_download_failed",
            message_id=message.id,
            error=str(error),
            retryable=retryable,
            last_try=last_try,
        )
        if retryable and not last_try:
            raise
        await _record_failure(runtime, message, _reason(error))
        return
    payload = {key: value for key, value in message.payload.items() if key != "media_error"}
    async with events.transaction():
        await Message.filter(id=message.id).update(media_id=media_file.id, payload=payload)
        await events.publish(runtime.broker, events.MessageEvent.of(message, "UPDATED"))


async def _fetch(settings: Settings, device: Device, message: Message) -> MediaFile:
    provider = provider_for(settings, device)
    assert isinstance(provider, CloudApiProvider)
    media_id = str(message.payload["id"])
    info = await provider.media_info(media_id)
    url = info.get("url")
    if not isinstance(url, str):
        raise ProviderError(
            "GET /{media-id} answered without a url", failure=FailureReason.UNKNOWN, retryable=True
        )
    expected = info.get("sha256") or message.payload.get("sha256")
    with tempfile.TemporaryFile() as sink:
        await provider.download_media(url, sink, max_bytes=kinds.LARGEST)
        digest = await asyncio.to_thread(_sha256, sink)
        if isinstance(expected, str) and not _same_digest(expected, digest):
            raise MediaMismatch(
                f"the downloaded file's sha256 is {digest.hex()}, Meta said {expected}"
            )
        declared = info.get("mime_type") or message.payload.get("mime_type")
        filename = message.payload.get("filename")
        return await store_received(
            settings,
            message.organization_id,
            sink,
            kind=MEDIA_MESSAGE_TYPES[message.type],
            declared_mime_type=declared.split(";")[0].strip()
            if isinstance(declared, str)
            else None,
            file_name=filename if isinstance(filename, str) else None,
        )


async def _record_failure(runtime: Runtime, message: Message, reason: str) -> None:
    payload = {**message.payload, "media_error": reason[:500]}
    async with events.transaction():
        await Message.filter(id=message.id).update(payload=payload)
        await events.publish(runtime.broker, events.MessageEvent.of(message, "UPDATED"))


def _reason(error: Exception) -> str:
    details = getattr(error, "details", None)
    return f"{error} ({details})" if details and details not in str(error) else str(error)


def _sha256(file: IO[bytes]) -> bytes:
    file.seek(0)
    digest = hashlib.sha256()
    while chunk := file.read(1024 * 1024):
        digest.update(chunk)
    file.seek(0)
    return digest.digest()


def _same_digest(expected: str, digest: bytes) -> bool:
    """Meta writes a sha256 in hex or in base64."""
    if expected.lower() == digest.hex():
        return True
    try:
        return base64.b64decode(expected, validate=True) == digest
    except (binascii.Error, ValueError):
        return False
