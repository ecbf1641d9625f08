"""Webhook jobs: dispatch outbox events into deliveries, send them, sweep what is due."""

from __future__ import annotations

from app.integrations import delivery, outbox
from app.integrations.sweep import sweep
from app.platform.runtime import JobContext


async def dispatch_webhook_events(ctx: JobContext, *, organization_id: int) -> None:
    await outbox.dispatch(ctx["runtime"], organization_id)


async def deliver_webhook(ctx: JobContext, *, webhook_id: int) -> None:
    await delivery.drain(ctx["runtime"], webhook_id)


async def sweep_webhooks(ctx: JobContext) -> None:
    await sweep(ctx["runtime"])
