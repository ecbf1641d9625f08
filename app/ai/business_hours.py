"""Business hours as agents see them: ``{"timezone": "...", "hours": {"mon": "09:00-17:00"}}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def describe(hours: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    try:
        zone = ZoneInfo(str(hours.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = (now or datetime.now(UTC)).astimezone(zone)
    week = {day: (hours.get("hours") or {}).get(day, "closed") for day in DAYS}
    today = week[DAYS[local.weekday()]]
    return {
        "timezone": str(zone),
        "now": local.strftime("%A %H:%M"),
        "open_now": _within(today, local.strftime("%H:%M")),
        "hours": week,
        "note": hours.get("note"),
    }


def _within(span: str, clock: str) -> bool:
    start, _, end = span.partition("-")
    return bool(end) and start.strip() <= clock < end.strip()
