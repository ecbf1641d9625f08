"""A snoozed conversation wakes (OPEN again) when its time has come."""

from __future__ import annotations

from app.messaging import activity
from app.models.inbox import ActivityKind
from app.models.messaging import Conversation, ConversationStatus
from app.platform import clock, events
from app.platform.pubsub import Broker


async def wake_if_due(broker: Broker, conversation_id: int) -> bool:
    """Reopen the conversation if it is still snoozed and its time has passed; False when
    it is gone, woke already (a customer message) or was snoozed again for later."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or conversation.snoozed_until is None:
        return False
    if conversation.snoozed_until > clock.now():
        return False
    async with events.transaction():
        woke = await Conversation.filter(
            id=conversation.id, snoozed_until=conversation.snoozed_until
        ).update(status=ConversationStatus.OPEN, snoozed_until=None, updated_at=clock.now())
        if not woke:
            return False
        await activity.record(conversation, ActivityKind.REOPENED, reason="snooze_ended")
        await events.publish(broker, events.ConversationEvent.of(conversation, "UPDATED"))
    return True
