"""The usage counter row of an organization, limit (or ``warnings``) and period."""

from __future__ import annotations

from datetime import date

from tortoise.exceptions import IntegrityError

from app.models.plans import UsageCounter


async def counter(organization_id: int, name: str, period: date) -> UsageCounter:
    """The row, created on first use (concurrent first users share one)."""
    row = await UsageCounter.get_or_none(organization_id=organization_id, limit=name, period=period)
    if row is not None:
        return row
    try:
        return await UsageCounter.create(organization_id=organization_id, limit=name, period=period)
    except IntegrityError:
        return await UsageCounter.get(organization_id=organization_id, limit=name, period=period)
