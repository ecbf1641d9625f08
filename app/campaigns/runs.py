"""Starting and ending a campaign's run: the state changes the scheduler and workers share.

Kept free of the GraphQL layer so worker processes can import it on their own.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F

from app.campaigns import progress
from app.campaigns.jobs import RUN_CAMPAIGN
from app.models.campaigns import Campaign, CampaignStatus
from app.platform import clock
from app.platform.pubsub import Broker


async def enqueue_run(queues: Any, campaign: Campaign, *, rescue: str | None = None) -> None:
    """Queue the coordinator of the campaign's current run (a rescue gets a key of its own)."""
    key = f"campaign:{campaign.id}:run:{campaign.run_generation}"
    await queues.enqueue(
        RUN_CAMPAIGN,
        key=key if rescue is None else f"{key}:rescue:{rescue}",
        campaign_id=campaign.id,
        retries=5,
        retry_delay=1.0,
        retry_backoff=True,
        timeout=600,
    )


async def begin_run(
    broker: Broker, queues: Any, campaign_id: int, *, allowed: tuple[CampaignStatus, ...]
) -> bool:
    """Move a campaign to RUNNING from one of ``allowed`` and queue its coordinator."""
    changes: dict[str, Any] = {
        "status": CampaignStatus.RUNNING,
        "run_generation": F("run_generation") + 1,
        "updated_at": clock.now(),
        "pause_reason": None,
    }
    moved = await Campaign.filter(id=campaign_id, status__in=allowed).update(**changes)
    if not moved:
        return False
    await Campaign.filter(id=campaign_id, started_at__isnull=True).update(started_at=clock.now())
    campaign = await Campaign.get(id=campaign_id)
    await progress.status_changed(broker, campaign)
    await enqueue_run(queues, campaign)
    return True


async def finish(
    broker: Broker, campaign: Campaign, status: CampaignStatus, reason: str | None = None
) -> bool:
    """RUNNING → COMPLETED/FAILED, once."""
    moved = await Campaign.filter(id=campaign.id, status=CampaignStatus.RUNNING).update(
        status=status, finished_at=clock.now(), failure_reason=reason, updated_at=clock.now()
    )
    if moved:
        await progress.status_changed(broker, await Campaign.get(id=campaign.id))
    return bool(moved)
