"""Inbox upkeep jobs."""

from __future__ import annotations

from datetime import timedelta

from app.inbox import routing, sync
from app.platform.runtime import JobContext


async def prune_inbox_changes(ctx: JobContext) -> int:
    """Cron: drop the inbox changes older than the retention window; how many went."""
    days = ctx["runtime"].settings.inbox_change_retention_days
    return await sync.prune(timedelta(days=days))


async def send_away_reply(ctx: JobContext, *, conversation_id: int) -> None:
    """The out-of-hours reply to a customer who wrote while the organization is closed."""
    await routing.send_away_reply(ctx["runtime"], conversation_id)
