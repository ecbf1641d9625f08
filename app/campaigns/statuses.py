"""Delivery statuses of campaign messages: a reaction to ``DeliveryStatusReceived``.

A campaign send carries ``biz_opaque_callback_data = "campaign-recipient:<id>"``; Meta echoes
it in every status webhook. That is how a recipient, and its message, learn their provider
message id even when the worker that sent it died after Meta took the send but before recording
its answer: the recipient is never sent twice, and the message takes this status and those that
came before it (kept unmatched), with their pricing (the plan's usage by Meta's category and the
campaign's stats by category follow the message row).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tortoise.expressions import Q

from app.campaigns import progress
from app.messaging import callbacks
from app.messaging.pipeline import reconcile
from app.models.campaigns import RECIPIENT_MAY_REPLACE, CampaignRecipient, RecipientStatus
from app.models.messaging import Device, Message
from app.platform.events import DeliveryStatusesReceived, DeliveryStatusReceived
from app.platform.sql import move_status
from app.whatsapp.types import DeliveryStatus, StatusUpdate

CALLBACK_PREFIX = "campaign-recipient:"

_STATUS = {
    DeliveryStatus.SENT: RecipientStatus.SENT,
    DeliveryStatus.DELIVERED: RecipientStatus.DELIVERED,
    DeliveryStatus.READ: RecipientStatus.READ,
    DeliveryStatus.PLAYED: RecipientStatus.READ,  # a voice note played was read
    DeliveryStatus.FAILED: RecipientStatus.FAILED,
}


def callback_data(recipient_id: int) -> str:
    return f"{CALLBACK_PREFIX}{recipient_id}"


def _recipient_id(update: StatusUpdate) -> int | None:
    data = update.biz_opaque_callback_data or ""
    if data.startswith(CALLBACK_PREFIX) and data[len(CALLBACK_PREFIX) :].isdigit():
        return int(data[len(CALLBACK_PREFIX) :])
    return None


async def on_status_update(event: DeliveryStatusReceived) -> None:
    """Move the campaign recipient a status is about (if any) forward; record its message id."""
    broker, device, update = event.broker, event.device, event.update
    recipient_id = _recipient_id(update)
    scope = CampaignRecipient.filter(campaign__device_id=device.id)
    if recipient_id is not None:
        scope = scope.filter(id=recipient_id)
    else:
        scope = scope.filter(provider_message_id=update.provider_message_id)
    found = await scope.limit(1).values_list(
        "id",
        "campaign_id",
        "campaign__organization_id",
        "message_id",
        "message__provider_message_id",
    )
    if not found:
        return
    rid, campaign_id, org_id, message_id, known = found[0]
    if (
        message_id is not None
        and known is None
        and await Message.filter(
            id=message_id, device_id=device.id, provider_message_id__isnull=True
        ).update(provider_message_id=update.provider_message_id)
    ):
        # The send's answer was never recorded (its worker died after Meta took it, or the
        # answer was lost): the pipeline now applies this status to the message, and here the
        # ones that came before it, kept as unmatched, are. Nothing else would: the recipient
        # moves on from SENDING with this status, so its lease is never reconciled.
        await reconcile(event, device, update.provider_message_id)
    await CampaignRecipient.filter(id=rid, provider_message_id__isnull=True).update(
        provider_message_id=update.provider_message_id
    )
    status = _STATUS[update.status]
    changes: dict[str, object] = {"status": status}
    if status is RecipientStatus.FAILED:
        changes |= {
            "error_code": update.error_code,
            "reason": update.error_message or update.error_title or str(update.failure),
        }
    updated = await CampaignRecipient.filter(
        id=rid, status__in=RECIPIENT_MAY_REPLACE[status]
    ).update(**changes)
    if updated:
        await progress.counts_changed(broker, org_id, campaign_id)


# The order a recipient moves through them.
_FORWARD = (RecipientStatus.SENT, RecipientStatus.DELIVERED, RecipientStatus.READ)


async def on_status_updates(event: DeliveryStatusesReceived) -> None:
    """A batch of statuses, none a failure: their recipients found with one query and moved
    with one statement per status, as ``on_status_update`` would move them one at a time."""
    device, updates = event.device, event.updates
    named = [_recipient_id(update) for update in updates]
    ids = sorted({rid for rid in named if rid is not None})
    unnamed = sorted(
        {u.provider_message_id for u, rid in zip(updates, named, strict=True) if rid is None}
    )
    conditions = [Q(id__in=ids)] if ids else []
    if unnamed:
        conditions.append(Q(provider_message_id__in=unnamed))
    if not conditions:
        return
    which = Q(*conditions, join_type="OR")
    rows = await CampaignRecipient.filter(which, campaign__device_id=device.id).values_list(
        "id",
        "campaign_id",
        "campaign__organization_id",
        "message_id",
        "message__provider_message_id",
        "provider_message_id",
    )
    by_id = {row[0]: row for row in rows}
    by_provider_id = {row[5]: row for row in rows if row[5]}
    moves: dict[RecipientStatus, set[int]] = {}
    organizations: dict[int, int] = {}  # campaign → its organization
    for update, rid in zip(updates, named, strict=True):
        row = by_id.get(rid) if rid is not None else by_provider_id.get(update.provider_message_id)
        if row is None:
            continue
        recipient_id, campaign_id, org_id, message_id, known, recorded = row
        if message_id is not None and known is None:
            # The send's answer was never recorded: one at a time, as it is rare.
            await on_status_update(
                DeliveryStatusReceived(event.settings, event.broker, device, update)
            )
            continue
        if recorded is None:
            await CampaignRecipient.filter(
                id=recipient_id, provider_message_id__isnull=True
            ).update(provider_message_id=update.provider_message_id)
        moves.setdefault(_STATUS[update.status], set()).add(recipient_id)
        organizations[campaign_id] = org_id
    changed: set[int] = set()
    for status in _FORWARD:
        changed.update(await _advance(sorted(moves.get(status, ())), status))
    for campaign_id in sorted(changed):
        await progress.counts_changed(event.broker, organizations[campaign_id], campaign_id)


async def _advance(ids: Sequence[int], status: RecipientStatus) -> set[int]:
    """Move the recipients ``ids`` that may take ``status`` to it; returns their campaigns."""
    moved = await move_status(
        CampaignRecipient, ids, status, RECIPIENT_MAY_REPLACE, returning="campaign_id"
    )
    return {row["campaign_id"] for row in moved}


async def lookup_unprocessed(device: Device, recipients: list[CampaignRecipient]) -> dict[int, str]:
    """Recipient id → provider message id, from status webhooks of ``device`` stored but not
    processed yet that name one of ``recipients``."""
    names = {callback_data(r.id): r.id for r in recipients}
    oldest = min(r.created_at for r in recipients) - timedelta(minutes=1)
    found = await callbacks.lookup_unprocessed(device, names, oldest)
    return {names[name]: provider_message_id for name, provider_message_id in found.items()}
