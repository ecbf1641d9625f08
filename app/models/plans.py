"""Plans, each organization's subscription to one, and what it used.

A plan's limits are a JSON object of limit name → number (``app.plans.limits.Limit`` names
them); a name left out is unlimited. Usage is counted in :class:`UsageCounter` rows, one per
organization, limit and period; a counter row is also the lock that makes "the last slot" go
to one caller only. :class:`UsageRecord` remembers what was counted under which key (a message
id, a run id), so a retry or a second worker never counts the same thing twice.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

from tortoise import fields

from app.models.accounts import Organization
from app.models.base import TimestampedModel


class SubscriptionStatus(str, Enum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELED = "CANCELED"


class Plan(TimestampedModel):
    name = fields.CharField(max_length=100, unique=True)
    # {"devices": 2, "seats": 5, ...}: a limit left out is unlimited.
    limits: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # Feature flags the plan turns on, e.g. ["ai_teams", "outbound_webhooks"].
    features: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    # The plan new organizations get (at most one; the settings' default plan otherwise).
    is_default = fields.BooleanField(default=False)

    class Meta:
        table = "plans"


class Subscription(TimestampedModel):
    organization: fields.OneToOneRelation[Organization] = fields.OneToOneField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "models.Plan", related_name=False, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(
        SubscriptionStatus, max_length=16, default=SubscriptionStatus.ACTIVE
    )
    # Set by a billing system; unset: usage periods are calendar months (UTC).
    current_period_start = fields.DatetimeField(null=True)
    current_period_end = fields.DatetimeField(null=True)
    trial_ends_at = fields.DatetimeField(null=True)
    # The billing system's id of this subscription (e.g. Stripe's `sub_…`).
    external_id = fields.CharField(max_length=200, null=True, unique=True)

    organization_id: int
    plan_id: int

    class Meta:
        table = "subscriptions"


class UsageCounter(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    limit = fields.CharField(max_length=48)
    # The first day of the period; limits that are not per period use ``app.plans.ALWAYS``.
    period: date = fields.DateField()  # type: ignore[assignment]
    used = fields.BigIntField(default=0)

    organization_id: int

    class Meta:
        table = "usage_counters"
        unique_together = (("organization", "limit", "period"),)


class UsageRecord(TimestampedModel):
    counter: fields.ForeignKeyRelation[UsageCounter] = fields.ForeignKeyField(
        "models.UsageCounter", related_name=False, on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=120)
    amount = fields.BigIntField(default=1)

    counter_id: int

    class Meta:
        table = "usage_records"
        unique_together = (("counter", "key"),)
