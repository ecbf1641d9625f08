"""Upkeep jobs of the platform itself."""

from __future__ import annotations

import time

from app.platform.queues import Job
from app.platform.runtime import JobContext

PING = Job("default", "ping")


async def ping(ctx: JobContext, *, sent_at: float) -> float:
    """Round trip through a queue and a worker; the health check and tests use it."""
    return time.time() - sent_at
