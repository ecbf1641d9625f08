"""The media part of the schema: files, their links, uploadMedia."""

from app.schema.media.mutations import MediaMutation
from app.schema.media.types import MediaFile, MediaKind

__all__ = ["MediaFile", "MediaKind", "MediaMutation"]
