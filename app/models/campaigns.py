"""Campaigns: one message, rendered per contact, sent to an audience.

A campaign's audience becomes one :class:`CampaignRecipient` row per contact when it starts;
the rows are the unit of work that worker processes claim with a lease, and the record of what
happened to each contact.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from app.models.accounts import Organization, User
from app.models.base import TimestampedModel
from app.models.messaging import Contact, Device, Message


class CampaignStatus(str, Enum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


FINISHED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED, CampaignStatus.FAILED)


class RecipientStatus(str, Enum):
    PENDING = "PENDING"
    CLAIMED = "CLAIMED"  # leased by a worker, not yet handed to the provider
    SENDING = "SENDING"  # handed to the provider; the outcome is not recorded yet
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


UNFINISHED = (RecipientStatus.PENDING, RecipientStatus.CLAIMED, RecipientStatus.SENDING)

# A recipient status may only replace one listed here: delivery statuses never move backwards.
RECIPIENT_MAY_REPLACE: dict[RecipientStatus, tuple[RecipientStatus, ...]] = {
    RecipientStatus.SENT: UNFINISHED,
    RecipientStatus.DELIVERED: (*UNFINISHED, RecipientStatus.SENT),
    RecipientStatus.READ: (*UNFINISHED, RecipientStatus.SENT, RecipientStatus.DELIVERED),
    RecipientStatus.FAILED: (*UNFINISHED, RecipientStatus.SENT, RecipientStatus.DELIVERED),
}


class Campaign(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name=False, on_delete=fields.CASCADE
    )
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    name = fields.CharField(max_length=200)
    # Either a free-form text or a template; both may hold {{variables}}.
    text = fields.TextField(null=True)
    template_name = fields.CharField(max_length=512, null=True)
    template_language = fields.CharField(max_length=16, null=True)
    template_parameters: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    # The template's header ({"format", "text"|"link"|"media_file_id"}) and button parameters
    # ([{"index", "sub_type", "parameter"}]); text, links and parameters may hold {{variables}}.
    template_header: fields.JSONField[dict[str, Any]] | None = fields.JSONField(null=True)
    template_buttons: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    audience_contact_ids: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    audience_tags: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    status = fields.CharEnumField(CampaignStatus, max_length=16, default=CampaignStatus.DRAFT)
    scheduled_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    audience_resolved_at = fields.DatetimeField(null=True)
    total_recipients = fields.IntField(default=0)
    # Bumped by each start/resume: names the batch jobs of that run, so SAQ keys stay unique.
    run_generation = fields.IntField(default=0)
    failure_reason = fields.TextField(null=True)
    # Why the campaign stopped by itself while it was RUNNING (a plan's limit reached).
    pause_reason = fields.TextField(null=True)

    organization_id: int
    device_id: int
    created_by_id: int | None

    class Meta:
        table = "campaigns"
        indexes = (
            Index(fields=("organization_id", "id")),
            Index(fields=("organization_id", "status", "id")),
        )


class CampaignRecipient(TimestampedModel):
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="recipients", on_delete=fields.CASCADE
    )
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    phone = fields.CharField(max_length=20)  # E.164, normalised
    # The phone again for the one recipient that may be messaged at that number, NULL for a
    # SKIPPED duplicate: the unique key makes "never two sends to one number" a constraint.
    send_phone = fields.CharField(max_length=20, null=True)
    variables: fields.JSONField[dict[str, Any]] = fields.JSONField(
        default=dict
    )  # rendered: {"text": ...} or {"parameters": [...]}
    status = fields.CharEnumField(RecipientStatus, max_length=16, default=RecipientStatus.PENDING)
    reason = fields.TextField(null=True)
    error_code = fields.IntField(null=True)
    lease_owner = fields.CharField(max_length=100, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    provider_message_id = fields.CharField(max_length=255, null=True)
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    sent_at = fields.DatetimeField(null=True)

    campaign_id: int
    contact_id: int | None
    message_id: int | None

    class Meta:
        table = "campaign_recipients"
        unique_together = (("campaign", "send_phone"), ("campaign", "contact"))
        indexes = (
            Index(fields=("campaign_id", "status", "id")),
            Index(fields=("provider_message_id",)),
        )
