"""What happened to a conversation, written for its timeline (``Conversation.timeline``)."""

from __future__ import annotations

from typing import Any

from app.models.inbox import ActivityKind, ConversationActivity
from app.models.messaging import Conversation


async def record(
    conversation: Conversation, kind: ActivityKind, actor_id: int | None = None, **data: Any
) -> ConversationActivity:
    return await ConversationActivity.create(
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        actor_id=actor_id,
        kind=kind,
        data=data,
    )
