"""The typing indicator: Meta marks the customer's latest message read and shows them
"typing…" for up to 25 seconds, or until the next message is sent."""

from __future__ import annotations

from app.messaging.providers import provider_for
from app.models.messaging import Conversation, Device, Direction, Message, Provider
from app.platform.config import Settings


async def latest_inbound(conversation_id: int) -> Message | None:
    """The customer's latest message with a provider id: the one Meta shows typing under."""
    return (
        await Message.filter(
            conversation_id=conversation_id,
            direction=Direction.INBOUND,
            provider_message_id__isnull=False,
        )
        .order_by("-id")
        .first()
    )


async def show_typing(settings: Settings, conversation: Conversation) -> bool:
    """Tell the provider; False when there is no customer message to show it under. Raises
    ProviderError."""
    message = await latest_inbound(conversation.id)
    if message is None or message.provider_message_id is None:
        return False
    device = await Device.get(id=conversation.device_id)
    if device.provider is not Provider.CLOUD_API:
        return True  # the sandbox's customers see nothing; accepted all the same
    await provider_for(settings, device).send_typing(message.provider_message_id)
    return True
