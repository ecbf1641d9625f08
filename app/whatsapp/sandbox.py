"""The simulated provider for development and demos: every valid send is accepted.

Status progression (SENT → DELIVERED → READ on a timer) is driven by the app, which owns the
database; this class only validates and hands out message ids.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.whatsapp.payloads import build_send_body
from app.whatsapp.types import OutboundMessage, SendResult


class SandboxProvider:
    async def send(self, message: OutboundMessage) -> SendResult:
        # Same validation as the Cloud API provider, so a payload that works here works on Meta.
        body = build_send_body(message)
        return SendResult(f"wamid.SANDBOX.{uuid.uuid4()}", wa_id=body["to"])

    async def mark_read(self, provider_message_id: str) -> None:
        return None

    async def send_typing(self, provider_message_id: str) -> None:
        return None

    async def verify(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        return None
