"""Inbox upkeep jobs."""

from __future__ import annotations

from datetime import timedelta

from app.inbox import sync
from app.platform.runtime import JobContext


async def prune_inbox_changes(ctx: JobContext) -> int:
    """Cron: drop the inbox changes older than the retention window; how many went."""
    days = ctx["runtime"].settings.inbox_change_retention_days
    return await sync.prune(timedelta(days=days))
