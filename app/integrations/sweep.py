"""Every second: queue what is due and anything a lost job left behind.

Jobs are announced when their work appears (an outbox row, a delivery), but an announcement
can be lost (a process killed between the write and the enqueue, a job killed mid-way whose
key SAQ still holds), and retries fall due with nobody announcing them. The sweep finds
both from the database, the source of truth, and queues the (deduplicated) jobs again.
"""

from __future__ import annotations

from datetime import timedelta

from app.integrations import outbox
from app.models.integrations import OutboxEvent, WebhookDelivery, WebhookDeliveryStatus
from app.platform import clock
from app.platform.runtime import Runtime

# An outbox row younger than this is left to the dispatch its writer queued.
SETTLE_SECONDS = 1.0


async def sweep(runtime: Runtime) -> None:
    now = clock.now()
    organizations: list[tuple[int]] = (
        await OutboxEvent.filter(
            dispatched_at=None, created_at__lte=now - timedelta(seconds=SETTLE_SECONDS)
        )
        .distinct()
        .values_list("organization_id")
    )
    for (organization_id,) in organizations:
        await outbox.announce(runtime, organization_id)
    due: list[tuple[int]] = (
        await WebhookDelivery.filter(
            status__in=(WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.FAILED),
            next_attempt_at__lte=now,
            webhook__active=True,
        )
        .distinct()
        .values_list("webhook_id")
    )
    for (webhook_id,) in due:
        await outbox.deliver_soon(runtime, webhook_id)
