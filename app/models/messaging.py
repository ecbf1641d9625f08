"""Devices, contacts, conversations, messages, templates and raw webhook events.

Every row carries its organization so that every query can be scoped with one filter, and the
lists clients page through have an index that starts with the organization (or the parent)
and ends with ``id``, the keyset column.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from app.models.accounts import Organization, User
from app.models.base import TimestampedModel


class Provider(str, Enum):
    SANDBOX = "SANDBOX"
    CLOUD_API = "CLOUD_API"


class DeviceStatus(str, Enum):
    PENDING = "PENDING"
    QR_REQUIRED = "QR_REQUIRED"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    FAILED = "FAILED"


# The status machine of a device: which status may follow which.
DEVICE_TRANSITIONS: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    DeviceStatus.PENDING: frozenset(
        {DeviceStatus.CONNECTING, DeviceStatus.QR_REQUIRED, DeviceStatus.CONNECTED}
    ),
    # Unscanned QR codes run out: the pairing ends DISCONNECTED until it is started again.
    DeviceStatus.QR_REQUIRED: frozenset(
        {
            DeviceStatus.CONNECTING,
            DeviceStatus.CONNECTED,
            DeviceStatus.DISCONNECTED,
            DeviceStatus.FAILED,
        }
    ),
    # A credentials check that Meta refuses (190) or cannot answer ends DISCONNECTED.
    DeviceStatus.CONNECTING: frozenset(
        {
            DeviceStatus.CONNECTED,
            DeviceStatus.QR_REQUIRED,
            DeviceStatus.DISCONNECTED,
            DeviceStatus.FAILED,
        }
    ),
    DeviceStatus.CONNECTED: frozenset({DeviceStatus.DISCONNECTED, DeviceStatus.FAILED}),
    DeviceStatus.DISCONNECTED: frozenset(
        {DeviceStatus.CONNECTING, DeviceStatus.CONNECTED, DeviceStatus.QR_REQUIRED}
    ),
    DeviceStatus.FAILED: frozenset({DeviceStatus.CONNECTING, DeviceStatus.CONNECTED}),
}


class Direction(str, Enum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class MessageType(str, Enum):
    TEXT = "TEXT"
    TEMPLATE = "TEMPLATE"
    IMAGE = "IMAGE"
    DOCUMENT = "DOCUMENT"
    AUDIO = "AUDIO"
    VIDEO = "VIDEO"
    STICKER = "STICKER"
    LOCATION = "LOCATION"
    INTERACTIVE = "INTERACTIVE"
    REACTION = "REACTION"
    UNSUPPORTED = "UNSUPPORTED"
    CONTACTS = "CONTACTS"
    ORDER = "ORDER"
    SYSTEM = "SYSTEM"


class MessageStatus(str, Enum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"
    RECEIVED = "RECEIVED"


# A status may only replace one listed here: statuses never move backwards.
STATUS_MAY_REPLACE: dict[MessageStatus, tuple[MessageStatus, ...]] = {
    MessageStatus.SENT: (MessageStatus.QUEUED,),
    MessageStatus.DELIVERED: (MessageStatus.QUEUED, MessageStatus.SENT),
    MessageStatus.READ: (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED),
    MessageStatus.FAILED: (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED),
}


class ConversationStatus(str, Enum):
    OPEN = "OPEN"
    PENDING = "PENDING"
    CLOSED = "CLOSED"


SERVICE_WINDOW = timedelta(hours=24)


def service_window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Free-form messages are allowed within 24 hours of the customer's latest message."""
    if last_inbound_at is None:
        return False
    return now - last_inbound_at < SERVICE_WINDOW


class TemplateStatus(str, Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"


class QualityRating(str, Enum):
    """Meta's quality rating of a template or a phone number."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"
    UNKNOWN = "UNKNOWN"


class ContactImportStatus(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class WebhookEventStatus(str, Enum):
    RECEIVED = "RECEIVED"
    PROCESSED = "PROCESSED"  # every item applied
    PARTIAL = "PARTIAL"  # some items applied, the others listed in `errors`
    FAILED = "FAILED"  # nothing applied: `error` says why


class Device(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    phone_number = fields.CharField(max_length=20)
    provider = fields.CharEnumField(Provider, max_length=16)
    status = fields.CharEnumField(DeviceStatus, max_length=16, default=DeviceStatus.PENDING)
    messages_per_second = fields.IntField(default=80)
    # Cloud API: the number's id at Meta, and credentials encrypted with app.platform.security.
    phone_number_id = fields.CharField(max_length=64, null=True, db_index=True)
    waba_id = fields.CharField(max_length=64, null=True)  # its WhatsApp Business Account
    # The Meta app: template header samples go through its resumable upload API.
    app_id = fields.CharField(max_length=64, null=True)
    # Number health, as Meta's phone_number_quality_update and account_update webhooks say.
    quality_rating = fields.CharEnumField(QualityRating, max_length=8, null=True)
    messaging_limit_tier = fields.CharField(max_length=32, null=True)
    account_event = fields.CharField(max_length=64, null=True)  # the latest account_update
    access_token_encrypted = fields.TextField(null=True)
    app_secret_encrypted = fields.TextField(null=True)
    verify_token = fields.CharField(max_length=128, default="")
    # Sandbox: connect by a simulated QR scan, and the code shown while QR_REQUIRED.
    pairing_required = fields.BooleanField(default=False)
    qr_code = fields.CharField(max_length=256, null=True)
    qr_expires_at = fields.DatetimeField(null=True)

    organization_id: int

    class Meta:
        table = "devices"
        indexes = (Index(fields=("organization_id", "id")),)


class Contact(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    # E.164, with the leading +; null for a customer known only by their business-scoped
    # user id (a WhatsApp username can hide the number).
    phone_number = fields.CharField(max_length=20, null=True)
    # Meta's business-scoped user id (BSUID, e.g. `US.13491208655302741918`) and the
    # customer's WhatsApp username, when Meta says them.
    user_id = fields.CharField(max_length=160, null=True)
    username = fields.CharField(max_length=100, null=True)
    name = fields.CharField(max_length=200, null=True)
    tags: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    # ",vip,lead," — lets both SQLite and PostgreSQL filter by tag with one LIKE.
    tags_text = fields.TextField(default="")
    attributes: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    opted_out_at = fields.DatetimeField(null=True)
    # When the customer last wrote (their latest inbound message).
    last_seen_at = fields.DatetimeField(null=True)

    organization_id: int

    class Meta:
        table = "contacts"
        unique_together = (("organization", "phone_number"), ("organization", "user_id"))
        indexes = (Index(fields=("organization_id", "id")),)


class Conversation(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="conversations", on_delete=fields.CASCADE
    )
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="conversations", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(
        ConversationStatus, max_length=16, default=ConversationStatus.OPEN
    )
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    unread_count = fields.IntField(default=0)
    last_inbound_at = fields.DatetimeField(null=True)
    last_message_at = fields.DatetimeField(null=True)
    ai_enabled = fields.BooleanField(default=False)
    # Snoozed (status PENDING) until then: the time passing or the customer's next message
    # reopens it.
    snoozed_until = fields.DatetimeField(null=True)

    organization_id: int
    device_id: int
    contact_id: int
    assignee_id: int | None

    class Meta:
        table = "conversations"
        unique_together = (("device", "contact"),)
        indexes = (
            Index(fields=("organization_id", "id")),
            Index(fields=("organization_id", "status", "id")),
            Index(fields=("device_id", "id")),
        )


class Message(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name=False, on_delete=fields.CASCADE
    )
    direction = fields.CharEnumField(Direction, max_length=8)
    type = fields.CharEnumField(MessageType, max_length=16, default=MessageType.TEXT)
    body = fields.TextField(null=True)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(MessageStatus, max_length=16)
    error_code = fields.IntField(null=True)
    error_message = fields.TextField(null=True)
    provider_message_id = fields.CharField(max_length=255, null=True)
    client_message_id = fields.CharField(max_length=255, null=True)
    author_user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    sent_at = fields.DatetimeField(null=True)
    # Set while a send of this message is with the provider and no answer was recorded (a
    # timeout or a dropped connection leaves it set): it may have reached Meta, so it is not
    # sent again before the status webhooks have had their say (resolvers.messaging.sending).
    handed_over_at = fields.DatetimeField(null=True)
    # The customer edited it (the earlier versions are in `payload.edits`) or deleted it for
    # everyone (its content is gone; the message stays, so the thread shows it was there).
    edited_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    # What status webhooks said besides the status: pricing, conversation, played, failure.
    delivery_details: fields.JSONField[dict[str, Any]] | None = fields.JSONField(null=True)
    # The id of the message this one quotes (Meta's `context`): an outbound reply sends it,
    # an inbound quoted reply links to it when Parley has it. A plain column, not a foreign
    # key: SQLite cannot add one to an existing table, and a quoted message is always of the
    # same conversation, deleted with it (app.messaging.erasure clears it all the same).
    reply_to_id = fields.BigIntField(null=True)
    # The file it carries (app.models.media.MediaFile): uploaded by a member, or downloaded from
    # Meta after the customer sent it (until then null; a failed download says why in
    # ``payload.media_error``).
    media: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.MediaFile", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # From the same details, as columns reports group by: Meta's pricing category
    # (marketing, utility, authentication, service) and whether the message is charged.
    pricing_category = fields.CharField(max_length=32, null=True)
    # A customer's message is stored with this set, in the same transaction: its reactions
    # (auto-reply, routing) are owed until a try claims them (app.messaging.pipeline), so a
    # webhook job that dies between the commit and the reactions leaves them to its retry.
    reactions_pending = fields.BooleanField(default=False)
    billable = fields.BooleanField(null=True)

    organization_id: int
    conversation_id: int
    device_id: int
    author_user_id: int | None
    media_id: int | None

    class Meta:
        table = "messages"
        # Webhooks are deduplicated on the provider's id; clients' retries on their own key.
        unique_together = (("device", "provider_message_id"), ("organization", "client_message_id"))
        indexes = (Index(fields=("conversation_id", "id")),)


class UnmatchedStatus(TimestampedModel):
    """A status for a provider message id we do not know (yet): kept for reconciliation.

    Meta may report a status before the send call that produced the id has been recorded.
    """

    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name=False, on_delete=fields.CASCADE
    )
    provider_message_id = fields.CharField(max_length=255)
    status = fields.CharEnumField(MessageStatus, max_length=16)
    error_code = fields.IntField(null=True)
    error_message = fields.TextField(null=True)
    occurred_at = fields.DatetimeField()
    details: fields.JSONField[dict[str, Any]] | None = fields.JSONField(null=True)

    device_id: int

    class Meta:
        table = "unmatched_statuses"
        indexes = (Index(fields=("device_id", "provider_message_id")),)


class Template(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="templates", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=512)
    language = fields.CharField(max_length=16)
    category = fields.CharField(max_length=32, default="UTILITY")
    components: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    status = fields.CharEnumField(TemplateStatus, max_length=16, default=TemplateStatus.APPROVED)
    # Meta's id once submitted (createTemplate on a CLOUD_API device, or syncTemplates).
    meta_id = fields.CharField(max_length=64, null=True)
    quality_rating = fields.CharEnumField(QualityRating, max_length=8, null=True)
    rejected_reason = fields.TextField(null=True)

    organization_id: int
    device_id: int

    def variables(self) -> list[str]:
        """The ``{{n}}`` placeholders of the body, in order: what a send must fill."""
        return body_variables(self.components)

    class Meta:
        table = "templates"
        unique_together = (("device", "name", "language"),)
        indexes = (Index(fields=("organization_id", "id")), Index(fields=("device_id", "meta_id")))


_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def body_variables(components: object) -> list[str]:
    names: list[str] = []
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "BODY":
            for name in _VARIABLE.findall(str(component.get("text", ""))):
                if name not in names:
                    names.append(name)
    return names


class WebhookEvent(TimestampedModel):
    """A webhook delivery exactly as received, stored before it is processed."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name=False, on_delete=fields.CASCADE
    )
    raw_body = fields.TextField()
    status = fields.CharEnumField(
        WebhookEventStatus, max_length=16, default=WebhookEventStatus.RECEIVED
    )
    error = fields.TextField(null=True)
    # The items not applied: [{"where": "entry[0].changes[0].messages[4]", "id", "reason"}].
    errors: fields.JSONField[list[Any]] | None = fields.JSONField(null=True)
    processed_at = fields.DatetimeField(null=True)

    organization_id: int
    device_id: int

    class Meta:
        table = "webhook_events"
        # created_at: the retention job deletes the old ones (app.messaging.retention);
        # (status, created_at): the stranded-event sweep reads only the last day's RECEIVED
        # ones (app.workers.messaging), not every row of the day.
        indexes = (
            Index(fields=("device_id", "id")),
            Index(fields=("created_at",)),
            Index(fields=("status", "created_at")),
        )


class ContactImport(TimestampedModel):
    """A CSV of contacts, imported by a job; counts and per-row errors are its report."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    csv_text = fields.TextField()
    status = fields.CharEnumField(
        ContactImportStatus, max_length=16, default=ContactImportStatus.QUEUED
    )
    total = fields.IntField(default=0)
    created = fields.IntField(default=0)
    updated = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    # [{"row": 3, "field": "phone_number", "message": "..."}], at most MAX_IMPORT_ERRORS.
    errors: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    error = fields.TextField(null=True)  # why the whole import FAILED
    finished_at = fields.DatetimeField(null=True)

    organization_id: int
    created_by_id: int | None

    class Meta:
        table = "contact_imports"
        indexes = (Index(fields=("organization_id", "id")),)
