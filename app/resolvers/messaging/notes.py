"""Private notes on a conversation: for the team, never sent to the customer."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from app.models.inbox import ConversationNote
from app.models.messaging import Conversation
from app.platform import events
from app.platform.context import Info
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.messaging.devices import not_found
from app.resolvers.messaging.inbox import find_conversation

MAX_NOTE = 10_000


def notes_of(conversation: Conversation) -> QuerySet[ConversationNote]:
    return ConversationNote.filter(
        organization_id=conversation.organization_id, conversation_id=conversation.id
    )


async def add_note(
    info: Info, *, conversation_id: str, body: str
) -> tuple[ConversationNote | None, list[UserError]]:
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    if not body.strip() or len(body) > MAX_NOTE:
        return None, [
            user_error("body", f"A note is 1 to {MAX_NOTE} characters.", UserErrorCode.INVALID)
        ]
    viewer = info.context.viewer
    assert viewer is not None
    async with events.transaction():
        note = await ConversationNote.create(
            organization_id=conversation.organization_id,
            conversation_id=conversation.id,
            author_id=viewer.user.id,
            body=body,
        )
        await conversation.save(update_fields=["updated_at"])
        await events.publish(
            info.context.runtime.broker, events.ConversationEvent.of(conversation, "UPDATED")
        )
    return note, []
