"""A stored webhook delivery, applied item by item.

Each message, status, echo, preference, template update and number health update of a
delivery is applied on its own: an item that cannot be used (the
parser says why) or that fails to apply is recorded on the event, with where it was in the
body and why, and the others are stored all the same. Every item is safe to apply twice, so a
delivery whose items failed is retried whole; after the last try the event ends PARTIAL (some
items applied) or FAILED (none), never RECEIVED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog

from app.messaging import media
from app.messaging.account_updates import (
    apply_number_health,
    apply_template_update,
    wrong_account,
)
from app.messaging.pipeline import apply_preference, apply_status, receive_inbound, store_echo
from app.messaging.status_batches import apply_statuses
from app.models.messaging import Device, WebhookEvent, WebhookEventStatus
from app.platform import clock
from app.platform.outage_logs import store_away
from app.whatsapp.errors import MalformedWebhook
from app.whatsapp.types import (
    InboundMessage,
    NumberHealthUpdate,
    SkippedItem,
    StatusUpdate,
    TemplateUpdate,
)
from app.whatsapp.webhooks import parse_webhook_body

if TYPE_CHECKING:
    from app.platform.runtime import Runtime

log = structlog.get_logger("parley.messaging")

# Statuses applied in one transaction (app.messaging.status_batches): ~10 statements for them all.
STATUSES_AT_ONCE = 20
MAX_REASON = 500  # characters of an item's error kept on its event


class ItemsFailed(Exception):
    """Items of a delivery failed to apply; the job tries the delivery again."""

    def __init__(self, event_id: int, failed: int) -> None:
        super().__init__(f"{failed} item(s) of webhook event {event_id} failed to apply")


async def apply_event(runtime: Runtime, event: WebhookEvent, *, last_try: bool) -> None:
    try:
        batch = parse_webhook_body(event.raw_body.encode())
    except MalformedWebhook as error:
        await _finish(event, WebhookEventStatus.FAILED, [], error=str(error))
        return
    device = await Device.get(id=event.device_id)
    broker = runtime.broker
    skipped = [item.as_dict() for item in batch.skipped]
    failed: list[dict[str, Any]] = []
    applied = 0
    # In order: the customer's messages, then statuses, the business app's echoes, preferences,
    # then what Meta says of the account: template reviews and ratings, the number's health.
    items: list[tuple[Any, str | None, Callable[[Any], Awaitable[object]]]] = [
        *((m, m.provider_message_id, partial(_receive, runtime, device)) for m in batch.messages),
        *(
            (u, u.provider_message_id, partial(apply_status, runtime, device))
            for u in batch.statuses
        ),
        *((e, e.provider_message_id, partial(_echo, runtime, device)) for e in batch.echoes),
        *((c, None, partial(apply_preference, device)) for c in batch.preferences),
        *(
            (t, t.template_id, partial(apply_template_update, broker, device))
            for t in batch.templates
        ),
        *((h, None, partial(apply_number_health, broker, device)) for h in batch.number_health),
    ]
    for item, item_id, apply in items:
        if wrong := _wrong_target(device, item):
            skipped.append(SkippedItem(item.where, wrong, item_id).as_dict())
            continue
        try:
            await apply(item)
            applied += 1
        except Exception as error:
            if store_away(error) is not None:
                raise  # not the item's fault: the whole delivery again once the store is back
            failed.append(_failure(event, item.where, item_id, error))
            cause = error
    problems = skipped + failed
    if failed and not last_try:
        event.errors = problems
        await event.save(update_fields=["errors", "updated_at"])
        raise ItemsFailed(event.id, len(failed)) from cause  # the log line names the cause
    if not problems:
        status = WebhookEventStatus.PROCESSED
    else:
        status = WebhookEventStatus.PARTIAL if applied else WebhookEventStatus.FAILED
    await _finish(event, status, problems)


async def apply_statuses_together(
    runtime: Runtime, received: Sequence[WebhookEvent]
) -> list[WebhookEvent]:
    """Apply the deliveries among ``received`` that hold nothing but statuses for their own
    device, each device's together (app.messaging.status_batches), and mark them PROCESSED;
    returns the others, for :func:`apply_event` one at a time. Raises what applying raised
    (nothing of the batch is marked: it is all safe to apply again)."""
    by_device: dict[int, list[tuple[WebhookEvent, list[StatusUpdate]]]] = {}
    others: list[WebhookEvent] = []
    for event in received:
        try:
            batch = parse_webhook_body(event.raw_body.encode())
        except MalformedWebhook:
            others.append(event)
            continue
        if batch.statuses and not (
            batch.messages
            or batch.echoes
            or batch.preferences
            or batch.templates
            or batch.number_health
            or batch.skipped
        ):
            by_device.setdefault(event.device_id, []).append((event, list(batch.statuses)))
        else:
            others.append(event)
    for device_id, items in sorted(by_device.items()):
        device = await Device.get(id=device_id)
        mine = [(e, updates) for e, updates in items if not _wrong_targets(device, updates)]
        others.extend(e for e, updates in items if _wrong_targets(device, updates))
        for chunk in _chunks(mine):
            await apply_statuses(runtime, device, [u for _, updates in chunk for u in updates])
            now = clock.now()
            await WebhookEvent.filter(id__in=[e.id for e, _ in chunk]).update(
                status=WebhookEventStatus.PROCESSED,
                errors=[],
                error=None,
                processed_at=now,
                updated_at=now,
            )
            for event, _ in chunk:
                event.status, event.processed_at = WebhookEventStatus.PROCESSED, now
    return sorted(others, key=lambda e: e.id)


def _chunks(
    items: list[tuple[WebhookEvent, list[StatusUpdate]]],
) -> list[list[tuple[WebhookEvent, list[StatusUpdate]]]]:
    """At most STATUSES_AT_ONCE statuses a chunk (a delivery's are never split): the work
    between two awaits grows with a chunk, and a worker's other jobs (a campaign's sends, due at
    their slots) wait for it."""
    chunks: list[list[tuple[WebhookEvent, list[StatusUpdate]]]] = [[]]
    size = 0
    for item in items:
        if chunks[-1] and size + len(item[1]) > STATUSES_AT_ONCE:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item[1])
    return [chunk for chunk in chunks if chunk]


def _wrong_targets(device: Device, updates: Sequence[StatusUpdate]) -> bool:
    return any(_wrong_target(device, update) for update in updates)


async def _receive(runtime: Runtime, device: Device, inbound: InboundMessage) -> None:
    message = await receive_inbound(runtime.settings, runtime.broker, device, inbound)
    await media.download_later(runtime.queues, device, message)


async def _echo(runtime: Runtime, device: Device, echo: InboundMessage) -> None:
    message = await store_echo(runtime.broker, device, echo)
    await media.download_later(runtime.queues, device, message)


async def give_up(event: WebhookEvent, error: BaseException) -> None:
    """The job's last try ended in an error outside any one item: the event says so."""
    await _finish(event, WebhookEventStatus.FAILED, list(event.errors or []), error=_reason(error))


def _wrong_target(device: Device, item: Any) -> str | None:
    if isinstance(item, TemplateUpdate | NumberHealthUpdate):
        return wrong_account(device, item)
    phone_number_id: str = item.phone_number_id
    if device.phone_number_id and phone_number_id != device.phone_number_id:
        return f"for phone number id {phone_number_id}, not this device's"
    return None


def _failure(
    event: WebhookEvent, where: str, item_id: str | None, error: Exception
) -> dict[str, Any]:
    log.exception("messaging.webhook_item_failed", event_id=event.id, where=where)
    return SkippedItem(where, _reason(error), item_id).as_dict()


def _reason(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


async def _finish(
    event: WebhookEvent,
    status: WebhookEventStatus,
    problems: list[dict[str, Any]],
    *,
    error: str | None = None,
) -> None:
    if error is None and problems:
        first = problems[0]
        error = f"{len(problems)} item(s) not applied; {first['where']}: {first['reason']}"
    event.status, event.errors, event.processed_at = status, problems, clock.now()
    await WebhookEvent.filter(id=event.id).update(
        status=status,
        errors=problems,
        error=error,
        processed_at=event.processed_at,
        updated_at=clock.now(),
    )
    if problems:
        log.warning(
            "messaging.webhook_event_incomplete",
            event_id=event.id,
            status=status.value,
            problems=len(problems),
        )
