"""Where media files' bytes live: one small interface over obstore, for a folder or S3.

``PARLEY_STORAGE_URL`` picks the store: ``file:///srv/parley/media`` (a folder; unset, the
folder ``media/`` under var/) or ``s3://bucket/prefix`` (AWS S3, MinIO, R2, GCS's S3 API, with
the ``PARLEY_STORAGE_S3_*`` settings). obstore speaks both with one API, streams both ways and
signs S3 URLs, so the rest of Parley never knows which store it has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store

from app.platform.config import Settings

# Bytes held per read or part: small reads for a browser's range requests; for writes, S3's
# smallest multipart part (5 MiB) or 1 MiB for a folder, two parts in flight, so a 100 MB
# upload holds a few MB (measured: tests/media/test_large_upload.py).
READ_CHUNK = 256 * 1024
S3_PART_SIZE = 5 * 1024 * 1024
FOLDER_PART_SIZE = 1024 * 1024
PARTS_IN_FLIGHT = 2


class StorageError(Exception):
    pass


class ObjectMissing(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no stored object {key!r}")


@dataclass(frozen=True)
class Stored:
    size: int
    content_type: str | None


class Storage:
    """Put, read (whole or a byte range), delete and link the objects of one store."""

    def __init__(self, store: Any, *, signs_urls: bool) -> None:
        self._store = store
        # S3 hands out presigned URLs; a folder's files are served by Parley (app.http.media).
        self.signs_urls = signs_urls

    async def put(self, key: str, file: IO[bytes], content_type: str) -> None:
        """Stream ``file`` (read from where it stands) into ``key``, in parts."""
        await obstore.put_async(
            self._store,
            key,
            file,
            # An object store keeps the type for its presigned URLs; a folder has no place for
            # it (Parley serves its files with the type of their MediaFile).
            attributes={"Content-Type": content_type} if self.signs_urls else None,
            chunk_size=S3_PART_SIZE if self.signs_urls else FOLDER_PART_SIZE,
            max_concurrency=PARTS_IN_FLIGHT,
        )

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self._store, key)
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of ``key`` from ``start`` up to ``end`` (exclusive; None: to the end)."""
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = {"offset": start} if end is None else (start, end)
        try:
            result = await obstore.get_async(self._store, key, options=options or None)  # type: ignore[arg-type]
        except (NotFoundError, FileNotFoundError) as error:
            raise ObjectMissing(key) from error
        async for chunk in result.stream(min_chunk_size=READ_CHUNK):
            yield bytes(chunk)

    async def delete(self, key: str) -> None:
        try:
            await obstore.delete_async(self._store, key)
        except (NotFoundError, FileNotFoundError):
            return

    async def presigned_url(self, key: str, expires_in: timedelta) -> str:
        if not self.signs_urls:
            raise StorageError("this store's files are served by Parley, not presigned")
        return str(await obstore.sign_async(self._store, "GET", key, expires_in))


def open_storage(settings: Settings) -> Storage:
    url = settings.storage_url or (settings.var_dir / "media").resolve().as_uri()
    parts = urlsplit(url)
    if parts.scheme == "file":
        folder = Path(parts.path)
        folder.mkdir(parents=True, exist_ok=True)
        return Storage(LocalStore(prefix=folder), signs_urls=False)
    if parts.scheme == "s3":
        config: dict[str, Any] = {"region": settings.storage_s3_region}
        endpoint = settings.storage_s3_endpoint_url
        if endpoint:
            config["endpoint"] = endpoint
        if settings.storage_s3_access_key_id:
            config["access_key_id"] = settings.storage_s3_access_key_id
        secret = settings.storage_s3_secret_access_key
        if secret is not None and secret.get_secret_value():
            config["secret_access_key"] = secret.get_secret_value()
        store = S3Store(
            parts.netloc,
            prefix=parts.path.strip("/") or None,
            config=config,  # type: ignore[arg-type]
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        )
        return Storage(store, signs_urls=True)
    raise StorageError(f"PARLEY_STORAGE_URL must be file://… or s3://…, not {parts.scheme}://")


_opened: dict[tuple[Any, ...], Storage] = {}


def storage_for(settings: Settings) -> Storage:
    """The process's storage for these settings (made once; the tests switch settings)."""
    key = (
        settings.storage_url,
        str(settings.var_dir),
        settings.storage_s3_endpoint_url,
        settings.storage_s3_region,
        settings.storage_s3_access_key_id,
    )
    if key not in _opened:
        _opened[key] = open_storage(settings)
    return _opened[key]
