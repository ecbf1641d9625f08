"""Sending one queued message (inbox and AI replies): paced like campaign sends, never twice.

Pacing. A send takes a slot of the device's limiter (campaigns.pacing), the one timeline that
every worker and every campaign of the device share, and goes only if it is on time for it: a
send late for its slot would crowd the second after it, so it takes a later slot. A 130429
comes back from the provider (no retry between slots) and the send takes a later slot, up to
RATE_LIMITED_RETRIES times, as campaign sends do.

Never twice. Before the request the message is marked handed over (``handed_over_at``, one
conditional UPDATE that only one run wins). Each send carries ``biz_opaque_callback_data =
"message:<id>"`` (callbacks.py), which Meta echoes in its status webhooks. A send whose answer
was lost (the provider's retryable error with neither HTTP status nor code: a timeout, a dropped
connection) may have reached Meta, so the mark stays and the message waits: a processed status
webhook records the provider id on it (pipeline.apply_status), one stored but not processed yet
is found here, and only a message no webhook has mentioned ``send_reconcile_seconds`` after the
lost answer is sent again. A run that finds the mark of a worker that died mid-send does the
same.

Backlog. Waiting for capacity is not a failure: the message was accepted, and the customer
still expects the reply, so it stays QUEUED until it is sent. A send waits for a slot at most a
quarter of its job's timeout; when the device is booked further ahead (a burst of replies on a
slow number), nothing is reserved and the job runs again when the device has room. Before, the
job slept through the backlog, timed out, reserved a later slot on each retry, and after the
last one left the message QUEUED for ever. What ends a send is an answer: Meta's refusal
(FAILED with its reason, e.g. 131047 once the 24-hour window has closed), retries spent on
errors (FAILED with the last one), or MAX_UNANSWERED sends with neither an answer nor a webhook
(FAILED, saying so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from tortoise.expressions import Q

from app.messaging import callbacks
from app.messaging.jobs import SANDBOX_PROGRESS
from app.messaging.media import meta_media_id
from app.messaging.pacing import LATE_SECONDS, RATE_LIMITED_RETRIES, DeviceLimiter
from app.messaging.pipeline import advance_status, reconcile, set_device_status
from app.messaging.providers import provider_for, wire_type
from app.messaging.template_messages import MediaHeaders
from app.models.media import MediaFile
from app.models.messaging import Device, Message, MessageStatus, MessageType, Provider, Template
from app.models.messaging import DeviceStatus as DeviceStatusModel
from app.plans import quotas
from app.plans.keys import message_key
from app.plans.limits import Limit, message_limit
from app.platform import clock, metrics, telemetry
from app.whatsapp.cloud_api import RetryPolicy
from app.whatsapp.errors import FailureReason, ProviderError
from app.whatsapp.types import OutboundMessage

if TYPE_CHECKING:
    from app.platform.queues import Queues
    from app.platform.runtime import Runtime

log = structlog.get_logger("parley.messaging")

# Sends that got neither an answer nor a status webhook before the message is given up.
MAX_UNANSWERED = 3


class MessageNotFound(Exception):
    def __init__(self, message_id: int) -> None:
        super().__init__(f"message {message_id} does not exist")


@dataclass(frozen=True)
class Rerun:
    """Send again at ``at`` (epoch seconds): not a failed attempt, a wait for the device's
    capacity or for the webhooks of a send whose answer was lost (``unanswered`` so far)."""

    at: float
    unanswered: int


async def send_queued(
    runtime: Runtime, message_id: int, *, unanswered: int, slot_wait: float, last_try: bool
) -> Rerun | None:
    """Send a QUEUED message once; a Rerun when it has to wait. Raises a retryable
    ProviderError (not ``last_try``) for the job queue to try again with backoff."""
    message = await Message.get_or_none(id=message_id).prefetch_related("conversation__contact")
    if message is None:
        raise MessageNotFound(message_id)
    if message.status is not MessageStatus.QUEUED or message.provider_message_id:
        return None  # sent, failed, or settled from a webhook
    device = await Device.get(id=message.device_id)
    if message.handed_over_at is not None:
        # An earlier send may have reached Meta: its webhooks have their say first.
        if await _found_in_stored_webhooks(runtime, device, message):
            return None
        due = message.handed_over_at + timedelta(seconds=runtime.settings.send_reconcile_seconds)
        if clock.now() < due:
            return Rerun(due.timestamp(), unanswered)
        if unanswered >= MAX_UNANSWERED:
            await _give_up(
                runtime,
                message,
                f"no answer from the provider and no status after {unanswered} sends",
            )
            return None
        log.info("messaging.resending_unheard", message_id=message.id, unanswered=unanswered)
    return await _send(runtime, device, message, unanswered, slot_wait, last_try)


async def _quoted(message: Message) -> str | None:
    """The provider id of the message a reply quotes: Meta's ``context.message_id``."""
    if message.reply_to_id is None:
        return None
    quoted = await Message.get_or_none(id=message.reply_to_id).only("id", "provider_message_id")
    return quoted.provider_message_id if quoted is not None else None


async def _send(
    runtime: Runtime,
    device: Device,
    message: Message,
    unanswered: int,
    slot_wait: float,
    last_try: bool,
) -> Rerun | None:
    contact = message.conversation.contact
    payload = message.payload
    if message.media_id is not None and "id" not in payload and "link" not in payload:
        # A file of Parley's: sent by the id Meta gave it on this device (uploaded once).
        try:
            media_file = await MediaFile.get(id=message.media_id)
            payload = {**payload, "id": await meta_media_id(runtime.settings, device, media_file)}
        except ProviderError as error:
            await _failed(runtime, device, message, error, last_try)
            return None
    if message.type is MessageType.TEMPLATE:
        try:  # a header naming one of Parley's files: sent by Meta's id for it
            payload = await MediaHeaders(runtime.settings, device)(payload)
        except ProviderError as error:
            await _failed(runtime, device, message, error, last_try)
            return None
    outbound = OutboundMessage(
        to=contact.phone_number or "",
        recipient=contact.user_id,
        type=wire_type(message.type),
        payload=payload,
        context_message_id=await _quoted(message),
        biz_opaque_callback_data=callbacks.message_callback(message.id),
    )
    # A 130429 comes back here to take a later slot of the limiter.
    provider = provider_for(runtime.settings, device, retry=RetryPolicy(rate_limited_inline=False))
    limiter = DeviceLimiter(runtime.redis)
    # Marked before the wait for a slot, so that nothing stands between the slot and the request.
    if not await _hand_over(runtime, message):
        return None  # another run is sending it
    # Counted against the plan once, however often it is handed over; never refused here.
    await quotas.reserve(
        runtime,
        message.organization_id,
        await _limit_of(message),
        key=message_key(message.id),
        force=True,
    )
    refusals = 0
    while True:
        slots = await limiter.next_slot(device.id, device.messages_per_second, within=slot_wait)
        if not slots.count:  # booked beyond what a run may wait: again when there is room
            await _take_back(message)
            room = time.time() + (slots.first - time.monotonic()) - slot_wait / 2
            return Rerun(max(room, time.time() + 1), unanswered)
        if time.monotonic() - slots.first > LATE_SECONDS:
            continue  # it would crowd the next second: a later slot
        try:
            result = await provider.send(outbound)
        except ProviderError as error:
            if error.retryable and error.http_status is None and error.code is None:
                # The request may have reached Meta: the mark stays until the webhooks spoke.
                await Message.filter(id=message.id).update(handed_over_at=clock.now())
                log.warning("messaging.send_unanswered", message_id=message.id, error=str(error))
                wait = runtime.settings.send_reconcile_seconds
                return Rerun(time.time() + wait, unanswered + 1)
            if error.failure is FailureReason.RATE_LIMITED and refusals < RATE_LIMITED_RETRIES:
                refusals += 1  # Meta turned it away (not sent): again at a later slot
                continue
            await _take_back(message)
            await _failed(runtime, device, message, error, last_try)
            return None
        await _record_sent(runtime, device, message, result.provider_message_id)
        return None


async def _limit_of(message: Message) -> Limit:
    """The limit a send counts against: its template's category; SERVICE for the rest."""
    if message.type is not MessageType.TEMPLATE:
        return message_limit("SERVICE")
    template = await Template.get_or_none(
        device_id=message.device_id,
        name=str(message.payload.get("name", "")),
        language=str(message.payload.get("language", "")),
    )
    return message_limit(template.category if template else "MARKETING")


async def _uncount(message: Message) -> None:
    """A send that never reached Meta is taken back from the plan's usage."""
    await quotas.release(
        message.organization_id, await _limit_of(message), key=message_key(message.id)
    )


async def _hand_over(runtime: Runtime, message: Message) -> bool:
    """Mark the message as with the provider; False when another run has it (a mark younger
    than the reconcile wait) or it was settled meanwhile."""
    at = clock.now()
    stale = at - timedelta(seconds=runtime.settings.send_reconcile_seconds)
    taken = await Message.filter(
        Q(handed_over_at__isnull=True) | Q(handed_over_at__lte=stale),
        id=message.id,
        status=MessageStatus.QUEUED,
        provider_message_id__isnull=True,
    ).update(handed_over_at=at)
    message.handed_over_at = at
    return bool(taken)


async def _take_back(message: Message) -> None:
    """The provider answered that it did not send it (or it never went): no mark."""
    await Message.filter(id=message.id, provider_message_id__isnull=True).update(
        handed_over_at=None
    )
    message.handed_over_at = None


async def _found_in_stored_webhooks(runtime: Runtime, device: Device, message: Message) -> bool:
    """Settle the message from a status webhook stored but not processed that names it."""
    name = callbacks.message_callback(message.id)
    since = message.created_at - timedelta(minutes=1)
    found = await callbacks.lookup_unprocessed(device, [name], since)
    if name not in found:
        return False
    log.info("messaging.reconciled_sent", message_id=message.id)
    await _record_sent(runtime, device, message, found[name])
    return True


async def _record_sent(
    runtime: Runtime, device: Device, message: Message, provider_message_id: str
) -> None:
    # A processed webhook may have recorded it first; Meta has this message under that id.
    await Message.filter(id=message.id, provider_message_id__isnull=True).update(
        provider_message_id=provider_message_id
    )
    message.provider_message_id = provider_message_id
    metrics.MESSAGES_SENT.labels(str(device.id), "message").inc()
    await telemetry.remember_send(runtime.redis, [provider_message_id])
    await advance_status(runtime.broker, message, MessageStatus.SENT)
    await reconcile(runtime, device, provider_message_id)
    await sandbox_network(runtime.queues, device, [message.id])


async def _failed(
    runtime: Runtime, device: Device, message: Message, error: ProviderError, last_try: bool
) -> None:
    log.warning(
        "messaging.send_failed",
        message_id=message.id,
        failure=str(error.failure),
        code=error.code,
        retryable=error.retryable,
        last_try=last_try,
    )
    metrics.provider_error(error.code, error.failure)
    if error.retryable and not last_try:
        raise error  # the queue tries again later, with backoff
    metrics.MESSAGES_FAILED.labels(str(device.id), "message").inc()
    await _uncount(message)
    await advance_status(
        runtime.broker,
        message,
        MessageStatus.FAILED,
        error_code=error.code,
        error_message=f"{error.failure}: {error.details or error.message}",
    )
    if error.failure.device_status is not None:
        await set_device_status(
            runtime.broker, device, DeviceStatusModel(error.failure.device_status)
        )


async def give_up(runtime: Runtime, message_id: int, error: BaseException) -> None:
    """The send job's last try ended in an error of ours: the message is FAILED, saying why,
    rather than QUEUED for ever."""
    message = await Message.get_or_none(id=message_id)
    if message is not None and message.provider_message_id is None:
        await _give_up(runtime, message, f"the send gave up: {type(error).__name__}: {error}")


async def _give_up(runtime: Runtime, message: Message, reason: str) -> None:
    log.warning("messaging.send_given_up", message_id=message.id, reason=reason)
    metrics.MESSAGES_FAILED.labels(str(message.device_id), "message").inc()
    await _uncount(message)
    await advance_status(runtime.broker, message, MessageStatus.FAILED, error_message=reason)


async def sandbox_network(queues: Queues, device: Device, message_ids: list[int]) -> None:
    """On a SANDBOX device, messages just sent go on to DELIVERED and READ, as on a phone."""
    if device.provider is not Provider.SANDBOX:
        return
    for message_id in message_ids:
        await queues.enqueue(
            SANDBOX_PROGRESS,
            key=f"sandbox-progress:{message_id}",
            message_id=message_id,
        )
