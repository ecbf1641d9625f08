"""uploadMedia, and MediaFile as a node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from app.dataloaders import media as loaders
from app.models.accounts import Role
from app.platform.context import Info
from app.platform.scope import in_organization, organization_id
from app.resolvers import media as resolvers
from app.schema.media.types import MediaFile
from app.schema.node import register_node
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError


@strawberry.input(description="A file to store, for sending in messages.")
class UploadMediaInput:
    file: Upload = strawberry.field(
        description="The file, as a GraphQL multipart request (what Apollo's and urql's upload "
        "links send). Its kind comes from its content; Meta's limits apply: image 5 MB "
        "(JPEG, PNG), video 16 MB (MP4, 3GPP), audio 16 MB (AAC, AMR, MP3, M4A, OGG), "
        "document 100 MB (PDF, Office, text), sticker WebP 100 KB (animated 500 KB)."
    )


@strawberry.type(description="The result of uploadMedia.")
class UploadMediaPayload:
    media_file: MediaFile | None = strawberry.field(
        description="The stored file (the one already stored, for the same bytes)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was stored.")


@strawberry.type
class MediaMutation:
    @strawberry.mutation(
        description="Store a file for sending (`sendMessage` with `media.mediaFileId`) (AGENT+).",
        permission_classes=[HasRole(Role.AGENT)],
    )
    async def upload_media(self, info: Info, input: UploadMediaInput) -> UploadMediaPayload:
        row, errors = await resolvers.upload_media(info, input.file)
        return UploadMediaPayload(
            media_file=MediaFile.from_model(row) if row is not None else None, user_errors=errors
        )


async def _media_files(info: Info, pks: Sequence[int]) -> list[Any]:
    if info.context.viewer is None or info.context.viewer.organization_id is None:
        return [None for _ in pks]
    rows = await info.context.loaders.get(loaders.media_file_by_id).load_many(list(pks))
    scoped = in_organization(rows, organization_id(info))
    return [MediaFile.from_model(row) if row is not None else None for row in scoped]


register_node("MediaFile", _media_files)
