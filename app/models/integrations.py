"""API keys, outbound webhooks, their outbox and their deliveries."""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields

from app.models.accounts import Role
from app.models.base import TimestampedModel


class ApiKey(TimestampedModel):
    """A credential that is not a person: it acts for its organization with its role.

    It signs in as a service user of its own (``user``, with a membership of ``role``), so it
    outlives whoever created it and every authorization rule that reads a membership holds.
    """

    organization: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Organization", related_name="api_keys", on_delete=fields.CASCADE
    )
    user: fields.OneToOneRelation[Any] = fields.OneToOneField(
        "models.User", related_name="api_key", on_delete=fields.CASCADE
    )
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="created_api_keys", null=True, on_delete=fields.SET_NULL
    )
    name = fields.CharField(max_length=200)
    # `prl_` and the first characters of the secret: what lists show to tell keys apart.
    prefix = fields.CharField(max_length=16)
    secret_hash = fields.CharField(max_length=64, unique=True)
    role = fields.CharEnumField(Role, max_length=16)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    organization_id: int
    user_id: int
    created_by_id: int | None

    class Meta:
        table = "api_keys"


class Webhook(TimestampedModel):
    """An integrator's URL and the subscription document that shapes what it is sent.

    The document runs as the webhook's own service user (a membership of ``role``), so a
    webhook sees no more than an API key of that role would.
    """

    organization: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Organization", related_name="webhooks", on_delete=fields.CASCADE
    )
    user: fields.OneToOneRelation[Any] = fields.OneToOneField(
        "models.User", related_name="webhook", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    url = fields.CharField(max_length=2000)
    query = fields.TextField()
    # The live-event topic the document's root field listens to (app.platform.events).
    topic = fields.CharField(max_length=32)
    # The document names one conversation: deliveries go out one at a time, in event order.
    ordered = fields.BooleanField(default=False)
    role = fields.CharEnumField(Role, max_length=16)
    active = fields.BooleanField(default=True)
    paused_reason = fields.CharField(max_length=200, default="")
    secret_encrypted = fields.CharField(max_length=400)
    # After a rotation the old secret signs too, until `previous_secret_until`.
    previous_secret_encrypted = fields.CharField(max_length=400, null=True)
    previous_secret_until = fields.DatetimeField(null=True)
    # Since when every attempt has failed (null after any success): a day of it pauses.
    failing_since = fields.DatetimeField(null=True)

    organization_id: int
    user_id: int

    class Meta:
        table = "webhooks"


class OutboxEvent(TimestampedModel):
    """A live event of an organization that has webhooks, written before it is published.

    Its ``id`` is the event sequence: deliveries of one webhook are ordered by it.
    """

    organization: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Organization", related_name="outbox_events", on_delete=fields.CASCADE
    )
    topic = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=32)
    payload: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    # Each (role, document) of the organization's webhooks -> its result for this event
    # (null: the document let the event through to nobody), computed where it happened.
    results: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    # Set once its deliveries are written (they are written once: unique per webhook).
    dispatched_at = fields.DatetimeField(null=True, index=True)

    organization_id: int

    class Meta:
        table = "outbox_events"


class WebhookDeliveryStatus(str, Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    DEAD = "DEAD"


class WebhookDelivery(TimestampedModel):
    """One event for one webhook: its body (fixed when written, so every retry sends the
    same bytes) and where its attempts stand."""

    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation[OutboxEvent] = fields.ForeignKeyField(
        "models.OutboxEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    organization_id = fields.BigIntField(index=True)
    body = fields.TextField()
    status = fields.CharEnumField(WebhookDeliveryStatus, max_length=16, index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True, index=True)
    # A failed attempt after this leaves it DEAD (set when written, and by a redelivery).
    retry_until = fields.DatetimeField()
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    last_response = fields.CharField(max_length=4096, null=True)
    last_latency_ms = fields.IntField(null=True)
    delivered_at = fields.DatetimeField(null=True)

    webhook_id: int
    event_id: int

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("webhook", "event"),)
