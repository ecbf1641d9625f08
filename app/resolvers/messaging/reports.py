"""What reports read: orders, ad referrals, and (staff) the webhook deliveries with the items
Parley refused. Each a queryset scoped to the caller's organization."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from tortoise.queryset import QuerySet

from app.models.inbox import AdReferral, Order
from app.models.messaging import WebhookEvent, WebhookEventStatus
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id


def orders(
    info: Info, *, contact_id: str | None, since: datetime | None, until: datetime | None
) -> QuerySet[Order]:
    queryset = Order.filter(organization_id=organization_id(info))
    if contact_id is not None:
        queryset = queryset.filter(contact_id=decode_id(contact_id, "Contact", field="contactId"))
    return _between(queryset, since, until)


def ad_referrals(
    info: Info, *, source_id: str | None, since: datetime | None, until: datetime | None
) -> QuerySet[AdReferral]:
    queryset = AdReferral.filter(organization_id=organization_id(info))
    if source_id is not None:
        queryset = queryset.filter(source_id=source_id)
    return _between(queryset, since, until)


def webhook_events(
    info: Info,
    *,
    device_id: str | None,
    status: WebhookEventStatus | None,
    with_errors: bool | None,
) -> QuerySet[WebhookEvent]:
    queryset = WebhookEvent.filter(organization_id=organization_id(info))
    if device_id is not None:
        queryset = queryset.filter(device_id=decode_id(device_id, "Device", field="deviceId"))
    if status is not None:
        queryset = queryset.filter(status=status)
    if with_errors:
        queryset = queryset.filter(
            status__in=[WebhookEventStatus.PARTIAL, WebhookEventStatus.FAILED]
        )
    return queryset


M = TypeVar("M", Order, AdReferral)


def _between(queryset: QuerySet[M], since: datetime | None, until: datetime | None) -> QuerySet[M]:
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    return queryset
