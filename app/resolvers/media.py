"""uploadMedia, and the links ``MediaFile.url`` hands out."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.datastructures import UploadFile

from app import media
from app.messaging.files import delete_files
from app.models.media import MediaFile
from app.plans import quotas
from app.plans.keys import file_key
from app.plans.limits import Limit
from app.platform.context import Info
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error

log = structlog.get_logger("parley.media")


async def upload_media(info: Info, file: Any) -> tuple[MediaFile | None, list[UserError]]:
    if not isinstance(file, UploadFile):
        return None, [
            user_error(
                "file",
                "Send the file as a GraphQL multipart request (the `Upload` scalar).",
                UserErrorCode.INVALID,
            )
        ]
    org_id = organization_id(info)
    settings = info.context.runtime.settings
    try:
        row = await media.store_upload(settings, org_id, file.file, file.filename)
    except media.FileTooLarge as error:
        return None, [user_error("file", str(error), UserErrorCode.LIMIT_EXCEEDED)]
    except media.MediaRefused as error:
        return None, [user_error("file", str(error), UserErrorCode.INVALID)]
    finally:
        await file.close()
    # Counted against the plan's storage once per file (the same bytes again are the same
    # file); over the limit, a file that is new goes again (no message carries it yet).
    if refused := await quotas.reserve(
        info.context.runtime, org_id, Limit.STORAGE_BYTES, row.size, key=file_key(row.id)
    ):
        await delete_files(settings, org_id, [row.id])
        return None, [refused.user_error("file")]
    log.info("media.uploaded", media_file_id=row.id, kind=row.kind.value, size=row.size)
    return row, []


def base_url(info: Info) -> str:
    """This server as the caller reached it (behind a trusted proxy: as the proxy says)."""
    url = str(info.context.request.base_url)
    if url.startswith("ws"):
        url = "http" + url[2:]
    return url


async def url_of(info: Info, row: MediaFile) -> str:
    return await media.url_for(info.context.runtime.settings, row, base_url(info))
