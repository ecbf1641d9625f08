"""Files of an organization (uploaded by its members or sent by its customers), and the ids
Meta gave them on each device.

A file is stored once per organization and content (``sha256``): uploading the same bytes
again, or a customer sending them twice, finds the row that is there. The bytes live in the
storage (app.media.storage) under ``storage_key``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from tortoise import fields
from tortoise.indexes import Index

from app.models.accounts import Organization
from app.models.base import TimestampedModel
from app.models.messaging import Device

# How long Meta keeps an uploaded file usable by its id (CLOUD_API.md); a day less, so a send
# never races the end of it.
META_MEDIA_TTL = timedelta(days=29)


class MediaKind(str, Enum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    DOCUMENT = "DOCUMENT"
    STICKER = "STICKER"


class MediaFile(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(MediaKind, max_length=16)
    mime_type = fields.CharField(max_length=128)
    size = fields.BigIntField()
    file_name = fields.CharField(max_length=255, null=True)
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=512)

    organization_id: int

    class Meta:
        table = "media_files"
        unique_together = (("organization", "sha256"),)
        indexes = (Index(fields=("organization_id", "id")),)


class MetaMedia(TimestampedModel):
    """A file uploaded to Meta from one device: its Meta media id, usable until ``expires_at``."""

    media_file: fields.ForeignKeyRelation[MediaFile] = fields.ForeignKeyField(
        "models.MediaFile", related_name=False, on_delete=fields.CASCADE
    )
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name=False, on_delete=fields.CASCADE
    )
    meta_media_id = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()

    media_file_id: int
    device_id: int

    def usable(self, now: datetime) -> bool:
        return now < self.expires_at

    class Meta:
        table = "meta_media"
        unique_together = (("media_file", "device"),)
