"""What an agent does to a conversation: send a reply through the normal send pipeline, or
hand it to a human."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from app.models.messaging import (
    Conversation,
    ConversationStatus,
    Device,
    DeviceStatus,
    Direction,
    Message,
    MessageStatus,
    MessageType,
    service_window_open,
)
from app.resolvers.messaging import events
from app.runtime import Runtime

# sendMessage's limit and job (app.resolvers.messaging.messages); not imported from there
# because that module pulls in the whole schema, which the AI job does not need.
MAX_TEXT = 4096
SEND_JOB = "send_message"


class ReplyNotSent(Exception):
    pass


async def send_reply(
    runtime: Runtime, conversation: Conversation, text: str, *, key: str
) -> Message:
    """Queue ``text`` on the send job like sendMessage does; ``key`` makes a rerun a no-op."""
    existing = await Message.get_or_none(
        organization_id=conversation.organization_id, client_message_id=key
    )
    if existing is not None:
        return existing
    conversation = await Conversation.get(id=conversation.id)
    device = await Device.get(id=conversation.device_id)
    if device.status is not DeviceStatus.CONNECTED:
        raise ReplyNotSent(f"the device is {device.status.value}")
    if not service_window_open(conversation.last_inbound_at):
        raise ReplyNotSent("the 24-hour customer service window is closed")
    text = text.strip()[:MAX_TEXT]
    if not text:
        raise ReplyNotSent("the model answered nothing")
    try:
        message = await Message.create(
            organization_id=conversation.organization_id,
            conversation_id=conversation.id,
            device_id=device.id,
            direction=Direction.OUTBOUND,
            type=MessageType.TEXT,
            body=text,
            payload={"body": text},
            status=MessageStatus.QUEUED,
            client_message_id=key,
        )
    except IntegrityError:
        return await Message.get(
            organization_id=conversation.organization_id, client_message_id=key
        )
    await Conversation.filter(id=conversation.id).update(last_message_at=message.created_at)
    await events.message_event(runtime.broker, message, "CREATED")
    await events.conversation_event(runtime.broker, conversation, "UPDATED")
    await runtime.queues.enqueue(
        "default",
        SEND_JOB,
        key=f"send:{message.id}",
        message_id=message.id,
        retries=5,
        retry_delay=1.0,
        retry_backoff=True,
        timeout=120,
    )
    return message


async def hand_off(runtime: Runtime, conversation: Conversation) -> None:
    """PENDING for a person, and no more AI answers until someone turns AI back on."""
    await Conversation.filter(id=conversation.id).update(
        status=ConversationStatus.PENDING, ai_enabled=False
    )
    conversation.status, conversation.ai_enabled = ConversationStatus.PENDING, False
    await events.conversation_event(runtime.broker, conversation, "UPDATED")
