"""What an agent does to a conversation: reply through the messaging send pipeline (the same
checks and send job as sendMessage), or hand it to a human."""

from __future__ import annotations

from app.messaging.pipeline import SendRefused, check_sendable, queue_outbound
from app.models.messaging import Conversation, ConversationStatus, Device, Message, MessageType
from app.platform import events
from app.platform.runtime import Runtime

# sendMessage's limit on a text (app.resolvers.messaging.messages.MAX_TEXT, which imports the
# schema): a longer answer is cut rather than refused.
MAX_TEXT = 4096


class ReplyNotSent(Exception):
    pass


async def send_reply(
    runtime: Runtime, conversation: Conversation, text: str, *, key: str
) -> Message:
    """Queue ``text`` like sendMessage does; ``key`` (the client message id) makes a rerun of
    the same run a no-op."""
    existing = await Message.get_or_none(
        organization_id=conversation.organization_id, client_message_id=key
    )
    if existing is not None:
        return existing
    conversation = await Conversation.get(id=conversation.id)
    device = await Device.get(id=conversation.device_id)
    text = text.strip()[:MAX_TEXT]
    if not text:
        raise ReplyNotSent("the model answered nothing")
    try:
        check_sendable(device, conversation, free_form=True)
    except SendRefused as refused:
        raise ReplyNotSent(str(refused)) from refused
    return await queue_outbound(
        runtime,
        conversation,
        device,
        kind=MessageType.TEXT,
        body=text,
        payload={"body": text},
        client_message_id=key,
    )


async def hand_off(runtime: Runtime, conversation: Conversation) -> None:
    """PENDING for a person, and no more AI answers until someone turns AI back on."""
    async with events.transaction():
        await Conversation.filter(id=conversation.id).update(
            status=ConversationStatus.PENDING, ai_enabled=False
        )
        conversation.status, conversation.ai_enabled = ConversationStatus.PENDING, False
        await events.publish(runtime.broker, events.ConversationEvent.of(conversation, "UPDATED"))
