"""Open or closed, by an organization's business hours (the ``Organization.business_hours``
JSON that ``setBusinessHours`` validates: ``{"timezone": "Europe/Rome", "hours": {"mon":
"09:00-17:00", ...}}``; a day not listed is closed)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Before any closing time: "closed since" for a week that never opens.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def configured(hours: dict[str, Any]) -> bool:
    """Whether the organization said when it is open (no hours: never "out of hours")."""
    return bool(hours.get("hours"))


def closed_since(hours: dict[str, Any], now: datetime) -> datetime | None:
    """When the closed period ``now`` falls in began, or None while open: the start of the
    window an out-of-hours reply is sent once in."""
    zone = _zone(hours)
    local = now.astimezone(zone)
    week = hours.get("hours") or {}
    for back in range(8):
        day = local.date() - timedelta(days=back)
        span = _span(week.get(DAYS[day.weekday()], "closed"))
        if span is None:
            continue
        opens = datetime.combine(day, span[0], zone)
        closes = datetime.combine(day, span[1], zone)
        if opens <= local < closes:
            return None
        if closes <= local:
            return closes.astimezone(UTC)
    return NEVER


def _zone(hours: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str(hours.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _span(text: object) -> tuple[time, time] | None:
    if not isinstance(text, str) or "-" not in text:
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    except ValueError:
        return None
    return (start, end) if start < end else None
