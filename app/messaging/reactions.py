"""Reactions attach to the message they react to: one per direction, the latest wins.

Meta may deliver a customer's reactions twice or out of order; a reaction older than the one
kept (``reacted_at``) changes nothing, and a removal (an empty emoji) is kept as one so that a
late copy of the earlier reaction does not bring it back.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError

from app.models.inbox import MessageReaction
from app.models.messaging import Direction, Message


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
