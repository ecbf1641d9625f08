"""Which campaigns have a live job working on them, and the watchdog that rescues the others.

Every job working on a campaign (the coordinator resolving its audience, each batch job)
stamps ``campaign:<id>:alive`` in Redis, a sorted set of job owner → time of its last sign of
life, once a second. A worker killed with SIGKILL stops stamping; SAQ never sweeps its batch
jobs (they have no timeout: they last as long as the campaign). The watchdog, a cron job on the
``campaigns`` queue (SAQ runs a cron job once per tick however many workers there are), finds
RUNNING campaigns nobody has stamped for ``STALE_SECONDS`` and queues fresh batch jobs for
them; those reclaim the expired leases and reconcile the sends the dead worker left behind.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
import structlog

from app.campaigns import runs
from app.campaigns.jobs import SEND_CAMPAIGN_BATCH
from app.models.campaigns import UNFINISHED, Campaign, CampaignRecipient, CampaignStatus
from app.platform import background, clock

log = structlog.get_logger("parley.campaigns")

BEAT_SECONDS = 1.0
# No stamp for this long: the job is gone (a live job stamps every BEAT_SECONDS, however busy,
# since the stamp runs in its own task).
STALE_SECONDS = 6.0


def _key(campaign_id: int) -> str:
    return f"campaign:{campaign_id}:alive"


async def _stamp(redis: aioredis.Redis, campaign_id: int, owner: str) -> None:
    now = time.time()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(_key(campaign_id), {owner: now})
        pipe.zremrangebyscore(_key(campaign_id), "-inf", now - 10 * STALE_SECONDS)
        pipe.expire(_key(campaign_id), int(10 * STALE_SECONDS))
        await pipe.execute()


@contextlib.asynccontextmanager
async def alive(
    redis: aioredis.Redis, campaign_id: int, owner: str, job: Any = None
) -> AsyncIterator[None]:
    """Stamp the campaign's liveness set for ``owner`` while the block runs."""

    async def beat() -> None:
        with contextlib.suppress(Exception):  # a Redis hiccup must not end the job
            await _stamp(redis, campaign_id, owner)
            if job is not None:
                await job.update()  # SAQ's own heartbeat, so SAQ can sweep a dead job

    await _stamp(redis, campaign_id, owner)
    try:
        async with background.every(BEAT_SECONDS, beat):
            yield
    finally:
        with contextlib.suppress(Exception):
            await redis.zrem(_key(campaign_id), owner)


async def live_jobs(redis: aioredis.Redis, campaign_id: int) -> int:
    return int(await redis.zcount(_key(campaign_id), time.time() - STALE_SECONDS, "+inf"))


async def enqueue_batches(
    queues: Any, campaign: Campaign, jobs: int, *, rescue: str | None = None
) -> None:
    """Queue ``jobs`` batch jobs for the campaign's current run (a rescue names a new set)."""
    prefix = f"campaign:{campaign.id}:run:{campaign.run_generation}"
    if rescue is not None:
        prefix += f":rescue:{rescue}"
    for slot in range(max(1, jobs)):
        await queues.enqueue(
            SEND_CAMPAIGN_BATCH,
            key=f"{prefix}:batch:{slot}",
            campaign_id=campaign.id,
            generation=campaign.run_generation,
            timeout=0,  # runs as long as the campaign does; stops on pause, cancel or the end
            heartbeat=int(10 * STALE_SECONDS),
            retries=3,
        )


async def rescue_orphans(redis: aioredis.Redis, queues: Any, jobs: int) -> list[int]:
    """Queue new work for RUNNING campaigns no live job works on; returns their ids."""
    rescued: list[int] = []
    for campaign in await Campaign.filter(status=CampaignStatus.RUNNING).order_by("id"):
        if await live_jobs(redis, campaign.id):
            continue
        # Just started: its coordinator may still wait in the queue; give it STALE_SECONDS.
        if campaign.updated_at and time.time() - campaign.updated_at.timestamp() < STALE_SECONDS:
            continue
        tick = str(int(time.time()))
        # The grace above again for the jobs queued now: one rescue, not one per tick.
        await Campaign.filter(id=campaign.id).update(updated_at=clock.now())
        if campaign.audience_resolved_at is None:
            await runs.enqueue_run(queues, campaign, rescue=tick)
        elif await CampaignRecipient.filter(
            campaign_id=campaign.id, status__in=UNFINISHED
        ).exists():
            await enqueue_batches(queues, campaign, jobs, rescue=tick)
        else:
            # Every recipient is settled but the job that would have said so died: one batch
            # job finds nothing to claim and completes the campaign.
            await enqueue_batches(queues, campaign, 1, rescue=tick)
        log.warning("campaigns.watchdog_rescued", campaign_id=campaign.id)
        rescued.append(campaign.id)
    return rescued
