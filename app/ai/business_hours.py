"""Business hours as agents see them: ``{"timezone": "...", "hours": {"mon": "09:00-17:00"}}``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.platform import clock

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def describe(hours: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    try:
        zone = ZoneInfo(str(hours.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = (now or clock.now()).astimezone(zone)
    week = {day: (hours.get("hours") or {}).get(day, "closed") for day in DAYS}
    today = week[DAYS[local.weekday()]]
    return {
        "timezone": str(zone),
        "now": local.strftime("%A %H:%M"),
        "open_now": _within(today, local.strftime("%H:%M")),
        "hours": week,
        "note": hours.get("note"),
    }


def problems(hours: dict[str, Any]) -> list[str]:
    """What is wrong with ``hours`` as opening hours, in words for the person who typed them."""
    wrong = []
    unknown = sorted(set(hours) - {"timezone", "hours", "note"})
    if unknown:
        wrong.append(f"Unknown keys {unknown}; use timezone, hours and note.")
    zone = hours.get("timezone", "UTC")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        wrong.append(f"Unknown timezone {zone!r}; use an IANA name such as Europe/Rome.")
    week = hours.get("hours", {})
    if not isinstance(week, dict):
        wrong.append('`hours` must map days to spans, e.g. {"mon": "09:00-17:00"}.')
        week = {}
    for day, span in week.items():
        if day not in DAYS:
            wrong.append(f"Unknown day {day!r}; days are {', '.join(DAYS)}.")
        elif not (span == "closed" or (isinstance(span, str) and _span(span))):
            wrong.append(f'{day}: {span!r} is neither "closed" nor "HH:MM-HH:MM".')
    note = hours.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        wrong.append("`note` must be text of at most 500 characters.")
    return wrong


def _span(span: str) -> bool:
    start, _, end = (part.strip() for part in span.partition("-"))
    return _clock(start) and _clock(end) and start < end


def _clock(text: str) -> bool:
    hours, _, minutes = text.partition(":")
    return (
        len(hours) == 2
        and len(minutes) == 2
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    )


def _within(span: str, clock: str) -> bool:
    start, _, end = span.partition("-")
    return bool(end) and start.strip() <= clock < end.strip()
