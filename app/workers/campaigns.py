"""Campaign jobs on the `campaigns` queue.

``run_campaign`` (the coordinator) resolves the audience once and fans the campaign out into a
few ``send_campaign_batch`` jobs as soon as its first recipients are written; any worker
process may run any of them. Each batch job claims recipients in small leased batches until
none are left, checking at least twice a second whether the campaign was paused or cancelled.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial

import structlog

from app.campaigns import audience, liveness, progress, quota, runs, sending
from app.campaigns.quota import CampaignQuota
from app.messaging.pacing import DeviceLimiter
from app.messaging.pipeline import set_device_status
from app.messaging.providers import provider_for
from app.messaging.sending import sandbox_network
from app.messaging.template_messages import MediaHeaders
from app.models.campaigns import (
    UNFINISHED,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from app.models.messaging import Device, DeviceStatus
from app.platform.outage_logs import database_away
from app.platform.runtime import JobContext
from app.whatsapp.cloud_api import RetryPolicy
from app.whatsapp.errors import FailureReason

log = structlog.get_logger("parley.campaigns")

STATUS_CHECK_SECONDS = 0.5
# How long a batch job waits for PostgreSQL to come back (a restart) before it gives up; its
# campaign is then rescued by the watchdog once the database is back.
DATABASE_PATIENCE_SECONDS = 300.0
RECONCILE_SECONDS = 1.0
MAX_BATCH = 200
BATCHES_IN_FLIGHT = 2


async def _campaign(campaign_id: int) -> Campaign | None:
    """The campaign, or None once it is gone (deleting a device deletes its campaigns): its
    jobs then end quietly, with nothing left to send or record."""
    campaign = await Campaign.get_or_none(id=campaign_id)
    if campaign is None:
        log.info("campaigns.gone", campaign_id=campaign_id)
    return campaign


async def start_scheduled_campaign(ctx: JobContext, *, campaign_id: int) -> None:
    runtime = ctx["runtime"]
    campaign = await _campaign(campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.SCHEDULED:
        return  # started by hand, cancelled, or another worker was first
    device = await Device.get(id=campaign.device_id)
    if device.status is not DeviceStatus.CONNECTED:
        await Campaign.filter(id=campaign.id, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.RUNNING
        )
        await runs.finish(
            runtime.broker, campaign, CampaignStatus.FAILED, f"The device is {device.status.value}."
        )
        return
    if refusal := await quota.check_start(runtime, campaign):
        # Over the plan's limit at its time: PAUSED with the reason, resumable after an upgrade.
        if await Campaign.filter(id=campaign.id, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.PAUSED, pause_reason=refusal.message
        ):
            await progress.status_changed(runtime.broker, await Campaign.get(id=campaign.id))
        return
    await runs.begin_run(
        runtime.broker, runtime.queues, campaign.id, allowed=(CampaignStatus.SCHEDULED,)
    )


async def run_campaign(ctx: JobContext, *, campaign_id: int) -> None:
    runtime = ctx["runtime"]
    campaign = await _campaign(campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.RUNNING:
        return
    jobs = runtime.settings.campaign_batch_jobs
    if campaign.audience_resolved_at is not None:
        await liveness.enqueue_batches(runtime.queues, campaign, jobs)
        return
    async with liveness.alive(runtime.redis, campaign.id, sending.new_owner(), ctx.get("job")):
        # The batch jobs start sending as soon as the first recipients are written.
        total = await audience.resolve(
            campaign, first_rows=lambda: liveness.enqueue_batches(runtime.queues, campaign, jobs)
        )
    log.info("campaigns.audience_resolved", campaign_id=campaign.id, recipients=total)
    current = await _campaign(campaign_id)
    if current is not None and current.status is CampaignStatus.CANCELLED:
        # Cancelled while the rows were being written: cancelCampaign settled the rows there
        # were then; these are the ones written since.
        await sending.cancel_pending(campaign.id)
        await progress.counts_changed(runtime.broker, campaign.organization_id, campaign.id)


async def campaign_watchdog(ctx: JobContext) -> None:
    """Cron: queue new work for RUNNING campaigns whose jobs died with their worker."""
    runtime = ctx["runtime"]
    await liveness.rescue_orphans(
        runtime.redis, runtime.queues, runtime.settings.campaign_batch_jobs
    )


async def send_campaign_batch(ctx: JobContext, *, campaign_id: int, generation: int) -> None:
    runtime = ctx["runtime"]
    settings = runtime.settings
    campaign = await _campaign(campaign_id)
    if campaign is None:
        return
    device = await Device.get(id=campaign.device_id)
    owner = sending.new_owner()
    sender = sending.Sender(
        runtime=runtime,
        campaign=campaign,
        device=device,
        # A 130429 comes back to the sender, which retries it at a slot of the device's limiter.
        provider=provider_for(settings, device, retry=RetryPolicy(rate_limited_inline=False)),
        limiter=DeviceLimiter(runtime.redis),
        owner=owner,
        lease=settings.campaign_lease_seconds,
        still_running=lambda: _still_running(campaign_id),
        on_sent=lambda ids: sandbox_network(runtime.queues, device, ids),
        quota=await CampaignQuota.of(runtime, campaign),
        complete_payload=MediaHeaders(settings, device),
    )
    reconciled_at = 0.0
    in_flight: set[asyncio.Task[FailureReason | None]] = set()
    # Enough in flight for a fast device (each lane half a second of its rate), small batches
    # for a slow one, so that a pause wastes few reserved slots.
    lanes = max(1, settings.campaign_batch_jobs)
    batch_size = max(
        settings.campaign_batch_size, min(MAX_BATCH, device.messages_per_second // (2 * lanes))
    )
    # The first batch is a quarter of the full size and each next one twice the last: the
    # first sends go out once a few messages are written, not a full batch in every lane.
    size = max(settings.campaign_batch_size, batch_size // 4)
    # Claimed in this turn and not handed to a sending task yet: never sent, whatever happens.
    undispatched: list[int] = []
    try:
        async with (
            liveness.alive(runtime.redis, campaign_id, owner, ctx.get("job")),
            sender.keeping_leases(),
        ):
            while True:
                try:
                    current = await _campaign(campaign_id)
                    if (
                        current is None
                        or current.status is not CampaignStatus.RUNNING
                        or current.run_generation != generation
                    ):
                        return
                    if time.monotonic() - reconciled_at > RECONCILE_SECONDS:
                        # Leases a dead worker left: settle its sends before anyone sends again.
                        await sending.reconcile_expired(
                            runtime,
                            campaign,
                            device,
                            reconcile_after=settings.campaign_reconcile_seconds,
                        )
                        reconciled_at = time.monotonic()
                    batch = await sending.claim(
                        campaign_id, owner, size, settings.campaign_lease_seconds
                    )
                    size = min(batch_size, 2 * size)
                    if not batch:
                        # Not before the audience is written in full: its last rows may come.
                        if (
                            current.audience_resolved_at is not None
                            and not await CampaignRecipient.filter(
                                campaign_id=campaign_id, status__in=UNFINISHED
                            ).exists()
                        ):
                            await runs.finish(runtime.broker, campaign, CampaignStatus.COMPLETED)
                            return
                        await sending.pause_briefly()  # others hold leases, or retries wait
                        continue
                    undispatched = [r.id for r in batch]
                    # A batch goes out concurrently, paced by the device's limiter; the next
                    # one is claimed and prepared while it does, so the pace never waits for
                    # the database. Preparing here, before the next claim, keeps a lane's
                    # second batch from competing with its first for the database at the start.
                    prepared = await sender.prepare(batch)
                except Exception as error:
                    if (away := database_away(error)) is None:
                        raise
                    # PostgreSQL went away (a restart) between two sends: once it is back, what
                    # this turn claimed is handed back, and the job carries on.
                    await sending.through_database_outage(
                        partial(_hand_back, sender, owner, list(undispatched)),
                        "claim",
                        patience=DATABASE_PATIENCE_SECONDS,
                        away=away,
                        campaign_id=campaign_id,
                    )
                    undispatched = []
                    continue
                in_flight.add(asyncio.create_task(sender.send_prepared(prepared)))
                undispatched = []
                if len(in_flight) >= BATCHES_IN_FLIGHT:
                    done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    failure = next((t.result() for t in done if t.result() is not None), None)
                    if failure is not None and failure.device_status is not None:
                        await set_device_status(
                            runtime.broker, device, DeviceStatus(failure.device_status)
                        )
                        await runs.finish(
                            runtime.broker,
                            campaign,
                            CampaignStatus.FAILED,
                            f"The device can no longer send ({failure}).",
                        )
                        return
    finally:
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        await sending.through_database_outage(
            lambda: _release(owner, campaign_id),
            "release",
            patience=DATABASE_PATIENCE_SECONDS,
            campaign_id=campaign_id,
        )


async def _release(owner: str, campaign_id: int) -> None:
    """Hand back what ``owner`` claimed and did not send, as the job ends."""
    # A campaign deleted with its device took its recipients along: nothing to hand back.
    current = await Campaign.get_or_none(id=campaign_id)
    if current is not None and current.status is CampaignStatus.CANCELLED:
        await sending.release(owner, RecipientStatus.CANCELLED)
        await sending.cancel_pending(campaign_id)
    elif current is not None:
        await sending.release(owner)


async def _hand_back(sender: sending.Sender, owner: str, undispatched: list[int]) -> None:
    """Rows of ``owner`` claimed (or made SENDING) in a turn that never reached a sending
    task go back to PENDING: none of them was handed to the provider."""
    await sending.release(owner)
    if undispatched:
        await sender.hand_back_unsent(undispatched)


_status_seen: dict[int, tuple[float, CampaignStatus | None]] = {}


async def _still_running(campaign_id: int) -> bool:
    """The campaign's status, read at most every STATUS_CHECK_SECONDS per process."""
    seen = _status_seen.get(campaign_id)
    if seen is None or time.monotonic() - seen[0] > STATUS_CHECK_SECONDS:
        # PostgreSQL away (a restart): the sends wait for it, rather than go unrecorded.
        current = await sending.through_database_outage(
            lambda: Campaign.get_or_none(id=campaign_id),
            "status_check",
            patience=DATABASE_PATIENCE_SECONDS,
            campaign_id=campaign_id,
        )
        seen = (time.monotonic(), current.status if current else None)
        _status_seen[campaign_id] = seen
    return seen[1] is CampaignStatus.RUNNING
