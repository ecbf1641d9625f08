"""Messaging jobs: send a queued message, mark messages read at the provider, play the sandbox's
statuses, process a webhook."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from app.messaging import deliveries, media, pairing, retention, sending, snoozing, typing
from app.messaging.contact_imports import run_import
from app.messaging.jobs import PROCESS_WEBHOOK_EVENT
from app.messaging.pipeline import (
    SEND_TIMEOUT,
    apply_status,
    enqueue_send,
    reconcile_stranded,
    set_device_status,
)
from app.messaging.providers import provider_for
from app.messaging.sending import MessageNotFound
from app.messaging.template_sync import run_sync
from app.models.messaging import (
    Conversation,
    Device,
    Message,
    WebhookEvent,
    WebhookEventStatus,
)
from app.models.messaging import DeviceStatus as DeviceStatusModel
from app.platform import clock, failures, metrics
from app.platform.outage_logs import store_away
from app.platform.runtime import JobContext
from app.whatsapp.errors import ProviderError
from app.whatsapp.types import DeliveryStatus, StatusUpdate

log = structlog.get_logger("parley.messaging")

# A send waits for a slot of its device at most this fraction of its job's timeout.
SLOT_WAIT_FRACTION = 0.25


async def send_message(
    ctx: JobContext, *, message_id: int, rerun: int = 0, unanswered: int = 0
) -> None:
    """Send a queued message (resolvers.messaging.sending); a wait for the device's capacity or
    for the webhooks of a lost answer is a rerun scheduled for later, not a failed attempt."""
    runtime = ctx["runtime"]
    job = ctx.get("job")
    timeout = job.timeout if job is not None and job.timeout else SEND_TIMEOUT
    try:
        later = await sending.send_queued(
            runtime,
            message_id,
            unanswered=unanswered,
            slot_wait=timeout * SLOT_WAIT_FRACTION,
            last_try=_last_try(ctx),
        )
    except ProviderError:
        raise  # retryable, and not the last try
    except Exception as error:
        if _last_try(ctx):
            await sending.give_up(runtime, message_id, error)
        raise
    if later is not None:
        await enqueue_send(
            runtime.queues, message_id, rerun=rerun + 1, unanswered=later.unanswered, at=later.at
        )


async def mark_read_at_provider(ctx: JobContext, *, message_id: int) -> None:
    """Tell the provider an inbound message (and so everything before it) was read."""
    runtime = ctx["runtime"]
    message = await Message.get_or_none(id=message_id)
    if message is None:
        raise MessageNotFound(message_id)
    if message.provider_message_id is None:
        return
    device = await Device.get(id=message.device_id)
    try:
        await provider_for(runtime.settings, device).mark_read(message.provider_message_id)
    except ProviderError as error:
        log.warning(
            "messaging.mark_read_failed",
            message_id=message.id,
            failure=str(error.failure),
            code=error.code,
            retryable=error.retryable,
        )
        if error.retryable and not _last_try(ctx):
            raise
        if error.failure.device_status is not None:
            await set_device_status(
                runtime.broker, device, DeviceStatusModel(error.failure.device_status)
            )


async def send_typing_indicator(ctx: JobContext, *, conversation_id: int) -> None:
    """Show the customer "typing…" under their latest message (sendTypingIndicator)."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        return  # deleted meanwhile: nobody to show it to
    try:
        await typing.show_typing(ctx["runtime"].settings, conversation)
    except ProviderError as error:
        # Typing lasts 25 seconds: a late retry would show it after the moment has passed.
        log.warning(
            "messaging.typing_failed",
            conversation_id=conversation_id,
            failure=str(error.failure),
            code=error.code,
        )


async def purge_expired(ctx: JobContext) -> dict[str, int]:
    """The daily retention sweep (app.messaging.retention)."""
    purged = await retention.purge(ctx["runtime"].settings.retention_days)
    log.info(
        "messaging.retention_purged",
        webhook_events=purged.webhook_events,
        contact_import_csvs=purged.contact_import_csvs,
    )
    return {
        "webhook_events": purged.webhook_events,
        "contact_import_csvs": purged.contact_import_csvs,
    }


# Deliveries still RECEIVED this long after they arrived lost their job (Redis went away
# between queueing it and a worker finishing it): the sweep queues them again. Only the last
# day is looked at (the created_at index bounds the scan; Meta redelivers older ones anyway).
STRANDED_AFTER = timedelta(seconds=30)
STRANDED_WINDOW = timedelta(days=1)


async def requeue_stranded_webhook_events(ctx: JobContext) -> int:
    """A cron job: queue again the deliveries whose job was lost; returns how many."""
    now = clock.now()
    stranded = [
        row["id"]
        for row in await WebhookEvent.filter(
            created_at__gte=now - STRANDED_WINDOW,
            created_at__lt=now - STRANDED_AFTER,
            status=WebhookEventStatus.RECEIVED,
        ).values("id")
    ]
    for event_id in stranded:
        await _enqueue_again(ctx, event_id, "swept", delay=0)
    if stranded:
        log.info("messaging.webhook_events_requeued", count=len(stranded))
    return len(stranded)


async def reconcile_stranded_statuses(ctx: JobContext) -> int:
    """A cron job: apply the statuses kept unmatched whose message has learned its provider id
    since, though the process that recorded it died before applying them (a campaign worker
    killed between recording a batch and reconciling it); returns for how many messages."""
    now = clock.now()
    count = await reconcile_stranded(ctx["runtime"], now - STRANDED_WINDOW, now - STRANDED_AFTER)
    if count:
        log.info("messaging.stranded_statuses_applied", messages=count)
    return count


async def _process_later(ctx: JobContext, event_id: int) -> None:
    try:
        await _enqueue_again(ctx, event_id, "after-outage", delay=OUTAGE_RETRY_SECONDS)
    except Exception as error:  # Redis still away: the event stays RECEIVED, said once here
        log.warning(
            "messaging.webhook_event_stranded", event_id=event_id, error=type(error).__name__
        )


async def _enqueue_again(ctx: JobContext, event_id: int, why: str, *, delay: int) -> None:
    # A key of its own: the lost job's key may still stand in Redis, marked active.
    now = int(clock.timestamp())
    await ctx["runtime"].queues.enqueue(
        PROCESS_WEBHOOK_EVENT,
        key=f"webhook:{event_id}:{why}:{now}",
        event_id=event_id,
        scheduled=now + delay,
        retries=3,
        retry_delay=1.0,
        retry_backoff=True,
    )


def _last_try(ctx: JobContext) -> bool:
    job = ctx.get("job")
    return job is None or job.attempts >= job.retries


async def rotate_sandbox_qr(ctx: JobContext, *, device_id: int, code: str, shown: int) -> None:
    """A pairing device's QR code ran out: show the next, or give up after the last."""
    runtime = ctx["runtime"]
    await pairing.rotate(
        runtime.settings, runtime.broker, runtime.queues, device_id, code=code, shown=shown
    )


async def sandbox_progress(ctx: JobContext, *, message_id: int) -> None:
    """The sandbox's network: DELIVERED then READ, through the webhook status pipeline."""
    runtime = ctx["runtime"]
    delay = runtime.settings.sandbox_status_delay_seconds
    for status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
        await asyncio.sleep(delay)
        message = await Message.get_or_none(id=message_id)
        if message is None or message.provider_message_id is None:
            return
        device = await Device.get(id=message.device_id)
        update = StatusUpdate(
            phone_number_id=device.phone_number_id or "",
            provider_message_id=message.provider_message_id,
            status=status,
            timestamp=clock.now(),
        )
        await apply_status(runtime, device, update)


# A delivery whose every try met Redis away is tried again this much later.
OUTAGE_RETRY_SECONDS = 15


async def process_webhook_event(ctx: JobContext, *, event_id: int) -> None:
    """Apply a stored delivery, item by item (app.messaging.deliveries)."""
    event = await WebhookEvent.get_or_none(id=event_id)
    if event is None:
        # Events are stored before their job is queued: one is gone only with its device,
        # deleted since with its conversations and messages. Nothing is left to apply it to.
        log.info("messaging.webhook_event_gone", event_id=event_id)
        return
    if event.status is not WebhookEventStatus.RECEIVED:
        return
    await _process(ctx, event)


async def process_webhook_events(ctx: JobContext, *, event_ids: list[int]) -> None:
    """Apply deliveries stored together (app.messaging.intake): those holding only statuses
    all at once, the others one at a time as ``process_webhook_event`` does. Every one is
    tried before the job fails with the first error (a retry skips those applied)."""
    received = await WebhookEvent.filter(
        id__in=event_ids, status=WebhookEventStatus.RECEIVED
    ).order_by("id")
    try:
        others = await deliveries.apply_statuses_together(ctx["runtime"], received)
    except Exception as error:
        if store_away(error) is not None:
            if _last_try(ctx):
                for event in received:
                    await _process_later(ctx, event.id)
            raise
        # Something in the batch cannot be applied: one at a time, each delivery records
        # which of its items failed and why.
        # A deadlock with another transaction is PostgreSQL settling a race, not a fault.
        report = log.info if failures.deadlock(error) else log.warning
        report("messaging.webhook_batch_failed", events=len(received), error=_brief(error))
        others = list(received)
    for event in received:
        if event.status is WebhookEventStatus.PROCESSED and event.processed_at is not None:
            metrics.WEBHOOK_LAG.observe((event.processed_at - event.created_at).total_seconds())
    failure: Exception | None = None
    for event in others:
        try:
            await _process(ctx, event)
        except Exception as error:
            failure = failure or error
    if failure is not None:
        raise failure


async def _process(ctx: JobContext, event: WebhookEvent) -> None:
    try:
        await deliveries.apply_event(ctx["runtime"], event, last_try=_last_try(ctx))
    except Exception as error:
        if _last_try(ctx):
            if store_away(error) is not None:
                # A store was away for every try: the delivery is no worse than when it came,
                # so it is queued afresh (RECEIVED, nothing recorded against its items).
                await _process_later(ctx, event.id)
            else:
                await deliveries.give_up(event, error)
        raise
    metrics.WEBHOOK_LAG.observe((clock.now() - event.created_at).total_seconds())


def _brief(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


async def download_media(ctx: JobContext, *, message_id: int) -> None:
    """Fetch a customer's file from Meta and attach it to its message (app.messaging.media)."""
    await media.download_inbound(ctx["runtime"], message_id, last_try=_last_try(ctx))


async def import_contacts(ctx: JobContext, *, import_id: int) -> None:
    await run_import(ctx["runtime"], import_id)


async def sync_templates(ctx: JobContext, *, device_id: int) -> None:
    count = await run_sync(ctx["runtime"].settings, device_id)
    log.info("messaging.templates_synced", device_id=device_id, templates=count)


async def unsnooze_conversation(ctx: JobContext, *, conversation_id: int) -> None:
    await snoozing.wake_if_due(ctx["runtime"].broker, conversation_id)
