"""Delivery statuses applied a batch at a time: the hot loop of the webhook pipeline.

Meta reports three statuses for every message sent. Applied one at a time
(``pipeline.apply_status``), each costs about a dozen statements: its campaign recipient's, its
message's, the plan's metering, the webhooks' outbox and the inbox log, each in a transaction
of its own that takes the organization's inbox sequence lock. Here a batch of them (the
deliveries stored together, app.messaging.intake) costs about as many statements in all.

Only the common case is taken together: a status that is not a failure, of a message whose
provider id is known. The others go through ``apply_status`` as before: a failure (its error,
the marketing opt-out), a status for an id not recorded yet (kept unmatched, or named by its
callback data), and every status while tracing is on (each joins the trace of its send). The
outcome is that of applying the statuses one by one: a status only moves a message forward,
and every move is one STATUS_CHANGED event, as there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import orjson
from tortoise import connections

from app.messaging.pipeline import DELIVERY_STATUS, apply_status, apply_to_message
from app.models.messaging import STATUS_MAY_REPLACE, Device, Direction, Message, MessageStatus
from app.plans import metering
from app.plans.context import PlanContext
from app.platform import clock, events, telemetry
from app.platform.sql import Binder, move_status
from app.whatsapp.types import DeliveryStatus, StatusUpdate

# The order a message moves through them (PLAYED is READ).
FORWARD = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)


async def apply_statuses(ctx: PlanContext, device: Device, updates: Sequence[StatusUpdate]) -> None:
    """Apply ``updates``, statuses of ``device``'s sends, as ``apply_status`` would each."""
    if telemetry.enabled():
        for update in updates:
            await apply_status(ctx, device, update)
        return
    together = [u for u in updates if u.status is not DeliveryStatus.FAILED]
    if together:
        await events.happened(
            events.DeliveryStatusesReceived(ctx.settings, ctx.broker, device, together)
        )
        for update in await _apply_known(ctx, device, together):
            await apply_to_message(ctx, device, update)
    for update in updates:
        if update.status is DeliveryStatus.FAILED:
            await apply_status(ctx, device, update)


async def _apply_known(
    ctx: PlanContext, device: Device, updates: Sequence[StatusUpdate]
) -> list[StatusUpdate]:
    """Apply the updates whose message is known; returns the others."""
    named = sorted({u.provider_message_id for u in updates})
    by_id = {
        m.provider_message_id: m
        for m in await Message.filter(device_id=device.id, provider_message_id__in=named)
    }
    known = [(by_id[u.provider_message_id], u) for u in updates if u.provider_message_id in by_id]
    detailed = await _merge_details(ctx, known)
    moves: dict[MessageStatus, list[Message]] = {}
    for message, update in known:
        moves.setdefault(DELIVERY_STATUS[update.status], []).append(message)
    async with events.transaction():
        if not await _lock_in_order(device, sorted({m.id for m, _ in known})):
            return []  # the device was deleted meanwhile, and its messages with it
        await _save_details(detailed)
        moved: list[events.LiveEvent] = []
        for status in FORWARD:
            # Each message's current status in memory moves with it, so one that goes from
            # SENT to READ in this batch takes both steps, as one status at a time would.
            candidates = {
                m.id: m for m in moves.get(status, ()) if m.status in STATUS_MAY_REPLACE[status]
            }
            for message_id in await _advance(sorted(candidates), status):
                message = candidates[message_id]
                message.status = status
                moved.append(events.MessageEvent.of(message, "STATUS_CHANGED"))
        await events.publish_many(ctx.broker, moved)
    return [u for u in updates if u.provider_message_id not in by_id]


async def _merge_details(
    ctx: PlanContext, known: Iterable[tuple[Message, StatusUpdate]]
) -> list[Message]:
    """Fold what each status said besides the status into its message (pricing, conversation),
    as ``pipeline.record_details`` does one at a time; the plan's usage moves to Meta's
    category first (should the process die before the rows are saved, a redelivery moves it,
    once). Returns the messages that changed."""
    changed: dict[int, Message] = {}
    prices: list[tuple[int, int, str]] = []
    for message, update in known:
        if not update.details:
            continue
        merged = dict(message.delivery_details or {}) | dict(update.details)
        if merged == message.delivery_details:
            continue
        message.delivery_details = merged
        changed[message.id] = message
        pricing = merged.get("pricing")
        if not isinstance(pricing, Mapping):
            continue
        category, billable = pricing.get("category"), pricing.get("billable")
        if isinstance(category, str) and category.lower() != message.pricing_category:
            if message.direction is Direction.OUTBOUND:
                prices.append((message.organization_id, message.id, category))
            message.pricing_category = category.lower()[:32]
        if isinstance(billable, bool):
            message.billable = billable
    await metering.priced_many(ctx, prices)
    return list(changed.values())


async def _lock_in_order(device: Device, ids: Sequence[int]) -> bool:
    """Lock the batch's device, then its messages in id order, before changing any; False when
    the device is gone.

    Two batches that share messages then wait for each other instead of deadlocking (each
    step's UPDATE would lock them in its own order), and so does a batch and the device's
    deletion, whose cascade locks the device before its messages. SQLite's transactions hold
    its one write lock already."""
    connection = connections.get("default")
    bind = Binder(connection)
    if not bind.postgres:
        return True
    _, devices = await connection.execute_query(
        f"SELECT id FROM {Device._meta.db_table} WHERE id = {bind(device.id)} FOR KEY SHARE",
        bind.params,
    )
    if not devices:
        return False
    if ids:
        bind = Binder(connection)
        await connection.execute_query(
            f"SELECT id FROM {Message._meta.db_table} WHERE id {bind.ids(ids)}"
            " ORDER BY id FOR UPDATE",
            bind.params,
        )
    return True


async def _save_details(messages: Sequence[Message]) -> None:
    if not messages:
        return
    connection = connections.get("default")
    bind = Binder(connection)
    sql = bind.update_from(
        Message._meta.db_table,
        [
            ("id", "bigint"),
            ("delivery_details", "jsonb"),
            ("pricing_category", "text"),
            ("billable", "boolean"),
        ],
        [
            (m.id, orjson.dumps(m.delivery_details).decode(), m.pricing_category, m.billable)
            for m in messages
        ],
        constants={"updated_at": (clock.now(), "timestamptz")},
    )
    await connection.execute_query(sql, bind.params)


async def _advance(ids: Sequence[int], status: MessageStatus) -> list[int]:
    """Move the messages ``ids`` that may take ``status`` to it; returns those that moved."""
    now = clock.now()
    constants = {"updated_at": (now, "timestamptz")}
    if status is MessageStatus.SENT:
        constants["sent_at"] = (now, "timestamptz")
    moved = await move_status(
        Message, ids, status, STATUS_MAY_REPLACE, returning="id", constants=constants
    )
    return sorted(row["id"] for row in moved)
