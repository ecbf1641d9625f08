"""The one clock. Every layer asks it the time, so a test (or a tool replaying events) moves
time for the whole app in one place: ``monkeypatch.setattr(clock, "now", ...)``.

Durations and schedules measured against the event loop (``time.monotonic``, ``loop.time``)
and the seconds Redis scripts and SAQ compare with their own clocks stay as they are.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def timestamp() -> float:
    """The current time in seconds since the epoch (token lifetimes)."""
    return time.time()
