"""Media files as GraphQL types."""

from __future__ import annotations

from enum import Enum

import strawberry

from app.models import media as models
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.resolvers import media as resolvers
from app.schema.node import Node
from app.schema.permissions import IsAuthenticated


@strawberry.enum(description="The kind of a media message or file.")
class MediaKind(Enum):
    IMAGE = "IMAGE"
    DOCUMENT = "DOCUMENT"
    AUDIO = "AUDIO"
    VIDEO = "VIDEO"
    STICKER = "STICKER"


@strawberry.type(
    description="A file of the organization: uploaded with `uploadMedia`, or sent by a "
    "customer. Stored once per content (`sha256`)."
)
class MediaFile(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    kind: MediaKind = strawberry.field(
        description="What WhatsApp sends it as, from its content (not its name)."
    )
    mime_type: str = strawberry.field(description="Its type, sniffed from its bytes.")
    size: int = strawberry.field(description="Bytes.")
    file_name: str | None = strawberry.field(description="The name it came with, if any.")
    sha256: str = strawberry.field(description="SHA-256 of its bytes, hex.")
    row: strawberry.Private[models.MediaFile]

    @classmethod
    def from_model(cls, row: models.MediaFile) -> MediaFile:
        return cls(
            id=to_global_id("MediaFile", row.id),
            kind=MediaKind(row.kind.value),
            mime_type=row.mime_type,
            size=row.size,
            file_name=row.file_name,
            sha256=row.sha256,
            row=row,
        )

    @strawberry.field(
        description="A short-lived signed link (`PARLEY_MEDIA_URL_TTL_SECONDS`, default 1 h) "
        "for `<img src>`, `<audio src>` or a download: no Authorization header needed, "
        "byte ranges served; refused once expired or altered.",
        permission_classes=[IsAuthenticated],
    )
    async def url(self, info: Info) -> str:
        return await resolvers.url_of(info, self.row)
