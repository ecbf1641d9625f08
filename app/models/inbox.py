"""What agents add to the inbox: reactions on messages, labels, private notes, the activity
of a conversation, and canned responses.

Every row carries its organization (or hangs off a conversation or message that does), so
that every query is scoped with one filter.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from app.models.accounts import Organization, User
from app.models.base import TimestampedModel
from app.models.messaging import Contact, Conversation, Direction, Message


class MessageReaction(TimestampedModel):
    """One emoji on a message per direction (the customer's, the business's); an empty emoji
    is a removed reaction, kept so that a late delivery of an older one does not bring it back
    (``reacted_at`` only moves forward)."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, on_delete=fields.CASCADE
    )
    direction = fields.CharEnumField(Direction, max_length=8)
    emoji = fields.CharField(max_length=32, default="")
    reacted_at = fields.DatetimeField()
    # The reaction's own message at the provider (inbound), or the queued send (outbound).
    provider_message_id = fields.CharField(max_length=255, null=True)

    organization_id: int
    message_id: int

    class Meta:
        table = "message_reactions"
        unique_together = (("message", "direction"),)


class Label(TimestampedModel):
    """One of an organization's labels, with a colour, set on conversations."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=64)
    color = fields.CharField(max_length=7, default="#6B7280")  # #RRGGBB

    organization_id: int

    class Meta:
        table = "labels"
        unique_together = (("organization", "name"),)
        indexes = (Index(fields=("organization_id", "id")),)


class ConversationLabel(TimestampedModel):
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name=False, on_delete=fields.CASCADE
    )
    label: fields.ForeignKeyRelation[Label] = fields.ForeignKeyField(
        "models.Label", related_name=False, on_delete=fields.CASCADE
    )

    conversation_id: int
    label_id: int

    class Meta:
        table = "conversation_labels"
        unique_together = (("conversation", "label"),)
        indexes = (Index(fields=("label_id", "conversation_id")),)


class ConversationNote(TimestampedModel):
    """A private note of the team on a conversation: never sent to the customer."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name=False, on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    body = fields.TextField()

    organization_id: int
    conversation_id: int
    author_id: int | None

    class Meta:
        table = "conversation_notes"
        indexes = (Index(fields=("conversation_id", "id")),)


class ActivityKind(str, Enum):
    ASSIGNED = "ASSIGNED"
    UNASSIGNED = "UNASSIGNED"
    LABELLED = "LABELLED"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    SNOOZED = "SNOOZED"
    UNSNOOZED = "UNSNOOZED"


class ConversationActivity(TimestampedModel):
    """Something that happened to a conversation, for its timeline: assigned, labelled,
    closed, snoozed... ``data`` says the details (``{"assignee_id"}``, ``{"labels": [..]}``,
    ``{"until"}``)."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name=False, on_delete=fields.CASCADE
    )
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(ActivityKind, max_length=16)
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    organization_id: int
    conversation_id: int
    actor_id: int | None

    class Meta:
        table = "conversation_activities"
        indexes = (Index(fields=("conversation_id", "id")),)


class CannedResponse(TimestampedModel):
    """A saved reply, found by its shortcut; ``{{contact.name}}``, ``{{agent.name}}`` and
    ``{{contact.attributes.<key>}}`` are filled in when it is sent."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    shortcut = fields.CharField(max_length=64)
    body = fields.TextField()
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    organization_id: int

    class Meta:
        table = "canned_responses"
        unique_together = (("organization", "shortcut"),)
        indexes = (Index(fields=("organization_id", "id")),)


class Order(TimestampedModel):
    """A customer's order from a catalog (an inbound `order` message), kept in columns for
    reports; the message keeps the full content."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, on_delete=fields.CASCADE, unique=True
    )
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE
    )
    catalog_id = fields.CharField(max_length=128, null=True)
    items: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    item_count = fields.IntField(default=0)  # the sum of the quantities
    total = fields.FloatField(null=True)  # sum of quantity × item_price, when one currency
    currency = fields.CharField(max_length=8, null=True)

    organization_id: int
    message_id: int
    contact_id: int

    class Meta:
        table = "orders"
        indexes = (Index(fields=("organization_id", "id")),)


class AdReferral(TimestampedModel):
    """A customer who came from a click-to-WhatsApp ad or post (a message's `referral`),
    kept in columns for reports: which ad brought whom."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, on_delete=fields.CASCADE, unique=True
    )
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE
    )
    source_type = fields.CharField(max_length=32, null=True)  # "ad" or "post"
    source_id = fields.CharField(max_length=128, null=True)
    source_url = fields.TextField(null=True)
    headline = fields.TextField(null=True)
    ctwa_clid = fields.CharField(max_length=512, null=True)

    organization_id: int
    message_id: int
    contact_id: int

    class Meta:
        table = "ad_referrals"
        indexes = (
            Index(fields=("organization_id", "id")),
            Index(fields=("organization_id", "source_id")),
        )
