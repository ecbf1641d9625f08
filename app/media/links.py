"""Short-lived links to a file that a browser can put in ``<img src>`` or ``<audio src>``.

A folder's files are served by Parley at ``/media/{id}?expires=…&signature=…``: the signature
is an HMAC-SHA256, with a key derived from the secret key, over the file's id and the expiry,
so the link itself is the permission (no Authorization header, which an ``<img>`` cannot send)
and it cannot be altered or extended. An S3 store hands out its own presigned URL.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import timedelta

from app.media.storage import storage_for
from app.models.media import MediaFile
from app.platform import clock
from app.platform.config import Settings

ROUTE = "/media/{media_id:int}"
_LABEL = b"parley/media-link/v1"


def _key(settings: Settings) -> bytes:
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, _LABEL, hashlib.sha256).digest()


def signature(settings: Settings, media_id: int, expires: int) -> str:
    message = f"{media_id}:{expires}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()


def valid(settings: Settings, media_id: int, expires: str, given: str) -> bool:
    """The link is Parley's (signature) and still current (expiry)."""
    if not expires.isdigit() or len(expires) > 12:
        return False
    expected = signature(settings, media_id, int(expires))
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return False
    return int(expires) > clock.now().timestamp()


async def url_for(settings: Settings, media_file: MediaFile, base_url: str) -> str:
    ttl = settings.media_url_ttl_seconds
    storage = storage_for(settings)
    if storage.signs_urls:
        return await storage.presigned_url(media_file.storage_key, timedelta(seconds=ttl))
    expires = math.ceil(clock.now().timestamp()) + ttl
    sig = signature(settings, media_file.id, expires)
    return f"{base_url.rstrip('/')}/media/{media_file.id}?expires={expires}&signature={sig}"
