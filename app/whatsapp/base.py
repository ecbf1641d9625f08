from __future__ import annotations

from typing import Any, Protocol

from app.whatsapp.types import OutboundMessage, SendResult


class Provider(Protocol):
    """What the messaging pipeline needs from a WhatsApp number, whoever carries the messages.

    ``send`` and ``mark_read`` raise ``ProviderError``; its ``retryable`` says whether a later job
    run may succeed.
    """

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def mark_read(self, provider_message_id: str) -> None: ...

    async def send_typing(self, provider_message_id: str) -> None:
        """Mark the customer's message read and show "typing…" until the next send."""
        ...

    async def verify(self) -> dict[str, Any]:
        """Check the credentials reach the number; what the provider says of it."""
        ...

    async def close(self) -> None: ...
