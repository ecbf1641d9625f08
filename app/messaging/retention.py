"""Retention: raw webhook bodies and contact-import CSVs are kept ``PARLEY_RETENTION_DAYS``.

A webhook event older than that is deleted (its items were applied long ago; the messages and
statuses it carried stay). An import keeps its report (counts and row errors) but loses its CSV.
Deleted in batches, so a large backlog never holds one long transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.models.messaging import ContactImport, WebhookEvent
from app.platform import clock

BATCH = 1000


@dataclass(frozen=True)
class Purged:
    webhook_events: int
    contact_import_csvs: int


async def purge(retention_days: int) -> Purged:
    cutoff = clock.now() - timedelta(days=retention_days)
    events = 0
    while True:
        ids = list(
            await WebhookEvent.filter(created_at__lt=cutoff)
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        if not ids:
            break
        events += await WebhookEvent.filter(id__in=ids).delete()
    imports = (
        await ContactImport.filter(created_at__lt=cutoff)
        .exclude(csv_text="")
        .update(csv_text="", updated_at=clock.now())
    )
    return Purged(events, imports)
