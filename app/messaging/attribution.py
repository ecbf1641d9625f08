"""Orders and ad referrals of inbound messages, kept in columns so reports can count them
(``orders``, ``adReferrals``). Safe to run twice: one row per message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tortoise.exceptions import IntegrityError

from app.models.inbox import AdReferral, Order
from app.models.messaging import Message, MessageType


async def record(message: Message, contact_id: int) -> None:
    payload = message.payload or {}
    try:
        if message.type is MessageType.ORDER:
            await Order.create(
                organization_id=message.organization_id,
                message_id=message.id,
                contact_id=contact_id,
                **_order_columns(payload),
            )
        referral = payload.get("referral")
        if isinstance(referral, Mapping):
            await AdReferral.create(
                organization_id=message.organization_id,
                message_id=message.id,
                contact_id=contact_id,
                source_type=_text(referral, "source_type", 32),
                source_id=_text(referral, "source_id", 128),
                source_url=_text(referral, "source_url"),
                headline=_text(referral, "headline"),
                ctwa_clid=_text(referral, "ctwa_clid", 512),
            )
    except IntegrityError:
        return  # recorded by an earlier run


def _order_columns(payload: Mapping[str, Any]) -> dict[str, Any]:
    items = [item for item in payload.get("items") or [] if isinstance(item, Mapping)]
    count, total = 0, 0.0
    currencies = set()
    for item in items:
        quantity = item.get("quantity")
        price = item.get("item_price")
        if isinstance(quantity, int) and not isinstance(quantity, bool):
            count += quantity
            if isinstance(price, int | float) and not isinstance(price, bool):
                total += quantity * float(price)
        if isinstance(item.get("currency"), str):
            currencies.add(item["currency"])
    single = len(currencies) == 1
    return {
        "catalog_id": _text(payload, "catalog_id", 128),
        "items": [dict(item) for item in items],
        "item_count": count,
        "total": round(total, 2) if single else None,
        "currency": next(iter(currencies))[:8] if single else None,
    }


def _text(parent: Mapping[str, Any], key: str, limit: int | None = None) -> str | None:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        return None
    return value[:limit] if limit is not None else value
