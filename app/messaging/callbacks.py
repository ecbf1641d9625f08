"""How a send names itself to Meta, and finding that name in status webhooks.

Every send carries ``biz_opaque_callback_data`` and Meta echoes it in each status webhook of the
message. So a send whose answer was lost (a timeout, a dropped connection, a worker that died)
still learns its provider message id: from a processed webhook, which records it on the
message, or from a webhook stored but not processed yet (its job may be queued, or have died
too), looked up here. Campaign sends name their recipient (campaigns.statuses), ordinary sends
their message.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from app.models.messaging import (
    Device,
    Direction,
    Message,
    WebhookEvent,
    WebhookEventStatus,
)
from app.whatsapp.errors import MalformedWebhook
from app.whatsapp.types import StatusUpdate
from app.whatsapp.webhooks import parse_webhook_body

MESSAGE_PREFIX = "message:"


def message_callback(message_id: int) -> str:
    return f"{MESSAGE_PREFIX}{message_id}"


def named_message_id(data: str | None) -> int | None:
    """The message id a status's callback data names, if it names one."""
    data = data or ""
    if data.startswith(MESSAGE_PREFIX) and data[len(MESSAGE_PREFIX) :].isdigit():
        return int(data[len(MESSAGE_PREFIX) :])
    return None


async def message_named_by(device: Device, update: StatusUpdate) -> Message | None:
    """The outbound message of ``device`` that ``update`` names by its callback data, with the
    status's provider id recorded on it if it had none (its send's answer was lost)."""
    message_id = named_message_id(update.biz_opaque_callback_data)
    if message_id is None:
        return None
    await Message.filter(
        id=message_id,
        device_id=device.id,
        direction=Direction.OUTBOUND,
        provider_message_id__isnull=True,
    ).update(provider_message_id=update.provider_message_id)
    return await Message.get_or_none(
        id=message_id, device_id=device.id, provider_message_id=update.provider_message_id
    )


async def lookup_unprocessed(
    device: Device, callbacks: Collection[str], since: datetime
) -> dict[str, str]:
    """Callback data → provider message id, from status webhooks of ``device`` stored since
    ``since`` but not processed (yet, or ever: their job failed, or some of their items did)
    that name one of ``callbacks``."""
    found: dict[str, str] = {}
    for callback in set(callbacks):
        bodies = await WebhookEvent.filter(
            device_id=device.id,
            created_at__gte=since,
            status__in=(
                WebhookEventStatus.RECEIVED,
                WebhookEventStatus.PARTIAL,
                WebhookEventStatus.FAILED,
            ),
            # Quoted: "message:1" must not match "message:12".
            raw_body__contains=f'"{callback}"',
        ).values_list("raw_body", flat=True)
        for raw in bodies:
            try:
                batch = parse_webhook_body(str(raw).encode())
            except MalformedWebhook:
                continue
            for update in batch.statuses:
                if update.biz_opaque_callback_data == callback:
                    found[callback] = update.provider_message_id
    return found
