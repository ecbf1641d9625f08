"""Reactions attach to the message they react to: one per direction, the latest wins.

Meta may deliver a customer's reactions twice or out of order; a reaction older than the one
kept (``reacted_at``) changes nothing, and a removal (an empty emoji) is kept as one so that a
late copy of the earlier reaction does not bring it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.models.inbox import MessageReaction
from app.models.messaging import Device, Direction, Message
from app.platform import events
from app.platform.pubsub import Broker
from app.whatsapp.types import InboundMessage


async def attach_reaction(
    message: Message,
    direction: Direction,
    emoji: str,
    at: datetime,
    provider_message_id: str | None = None,
) -> bool:
    """Set ``direction``'s reaction on ``message`` to ``emoji`` (empty: removed); False when
    a later reaction is kept already."""
    existing = await MessageReaction.get_or_none(message_id=message.id, direction=direction)
    if existing is None:
        try:
            # A savepoint: the caller's transaction goes on after a concurrent delivery won.
            async with in_transaction():
                await MessageReaction.create(
                    organization_id=message.organization_id,
                    message_id=message.id,
                    direction=direction,
                    emoji=emoji,
                    reacted_at=at,
                    provider_message_id=provider_message_id,
                )
            return True
        except IntegrityError:  # a concurrent delivery created it first
            existing = await MessageReaction.get(message_id=message.id, direction=direction)
    if existing.reacted_at > at or (
        existing.emoji == emoji and existing.provider_message_id == provider_message_id
    ):
        return False
    existing.update_from_dict(
        {"emoji": emoji, "reacted_at": at, "provider_message_id": provider_message_id}
    )
    await existing.save(update_fields=["emoji", "reacted_at", "provider_message_id", "updated_at"])
    return True


async def quoted_message_id(device: Device, payload: Mapping[str, Any]) -> int | None:
    """The stored message a quoted reply quotes (``payload.quoted_message_id``), if Parley has
    it."""
    quoted = payload.get("quoted_message_id")
    if not isinstance(quoted, str) or not quoted:
        return None
    row = await Message.filter(device_id=device.id, provider_message_id=quoted).first().only("id")
    return row.id if row is not None else None


async def apply_reaction(broker: Broker, device: Device, inbound: InboundMessage) -> Message | None:
    """The customer reacted to a message Parley has: the reaction attaches to it (an empty
    emoji removes it). None when the message is unknown: the reaction is then stored as a
    REACTION message of its own, so it is not lost."""
    target_id = inbound.content.get("message_id")
    if not isinstance(target_id, str):
        return None
    target = await Message.get_or_none(device_id=device.id, provider_message_id=target_id)
    if target is None:
        return None
    emoji = str(inbound.content.get("emoji") or "")
    async with events.transaction():
        if await attach_reaction(
            target, Direction.INBOUND, emoji, inbound.timestamp, inbound.provider_message_id
        ):
            await events.publish(broker, events.MessageEvent.of(target, "UPDATED"))
    return target
