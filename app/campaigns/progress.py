"""campaignProgress events: a status change at once, count changes at most a few a second."""

from __future__ import annotations

import asyncio
import time

import structlog

from app.models.campaigns import Campaign
from app.platform import events
from app.platform.outage_logs import store_away
from app.platform.pubsub import Broker

log = structlog.get_logger("parley.campaigns")

INTERVAL = 0.25  # seconds between two count updates of one campaign from one process

_last: dict[int, float] = {}
_pending: dict[int, asyncio.Task[None]] = {}


async def _publish(broker: Broker, org_id: int, campaign_id: int, kind: str) -> None:
    _last[campaign_id] = time.monotonic()
    await events.publish(broker, events.CampaignEvent(kind, org_id, campaign_id))


async def status_changed(broker: Broker, campaign: Campaign) -> None:
    await _publish(broker, campaign.organization_id, campaign.id, "STATUS_CHANGED")


async def counts_changed(broker: Broker, org_id: int, campaign_id: int) -> None:
    """Publish now, or once at the end of the current interval if one was just published."""
    if campaign_id in _pending:
        return
    wait = _last.get(campaign_id, 0.0) + INTERVAL - time.monotonic()
    if wait <= 0:
        await _publish(broker, org_id, campaign_id, "COUNTS_CHANGED")
        return

    async def trailing() -> None:
        try:
            await asyncio.sleep(wait)
            await _publish(broker, org_id, campaign_id, "COUNTS_CHANGED")
        except Exception as error:
            if (away := store_away(error)) is None:
                raise
            # A store restarting: the next change publishes the counts (nobody awaits this).
            store, cause = away
            log.warning(
                "campaigns.progress_unpublished",
                campaign_id=campaign_id,
                **{f"{store}_unavailable": type(cause).__name__},
            )
        finally:
            _pending.pop(campaign_id, None)

    _pending[campaign_id] = asyncio.create_task(trailing())
