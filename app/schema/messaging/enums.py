"""The messaging enums as GraphQL declares them (the models' own enums)."""

from __future__ import annotations

import strawberry

from app.models import messaging as models

Provider = models.Provider
strawberry.enum(models.Provider, description="Who carries a device's messages.")
DeviceStatus = models.DeviceStatus
strawberry.enum(
    models.DeviceStatus, description="Where a device stands in its connection life cycle."
)
Direction = models.Direction
strawberry.enum(models.Direction, description="Who sent a message.")
MessageType = models.MessageType
strawberry.enum(models.MessageType, description="What a message carries.")
MessageStatus = models.MessageStatus
strawberry.enum(
    models.MessageStatus,
    description="QUEUED → SENT → DELIVERED → READ, or FAILED; RECEIVED for inbound messages.",
)
ConversationStatus = models.ConversationStatus
strawberry.enum(models.ConversationStatus, description="Where a conversation stands in the inbox.")
TemplateStatus = models.TemplateStatus
strawberry.enum(models.TemplateStatus, description="Meta's review status.")
QualityRating = models.QualityRating
strawberry.enum(
    models.QualityRating,
    description="Meta's quality rating of a template or a number: GREEN (high), YELLOW "
    "(medium), RED (low), UNKNOWN (not rated yet).",
)
ContactImportStatus = models.ContactImportStatus
strawberry.enum(
    models.ContactImportStatus,
    description="QUEUED → RUNNING → COMPLETED (with per-row errors), or FAILED as a whole.",
)

__all__ = [
    "ContactImportStatus",
    "ConversationStatus",
    "DeviceStatus",
    "Direction",
    "MessageStatus",
    "MessageType",
    "Provider",
    "QualityRating",
    "TemplateStatus",
]
