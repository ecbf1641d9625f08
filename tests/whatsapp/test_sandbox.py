import pytest

from app.whatsapp.sandbox import SandboxProvider
from app.whatsapp.types import FailureReason, MessageType, OutboundMessage, ProviderError


async def test_sandbox_accepts_a_valid_message_with_a_sandbox_wamid() -> None:
    provider = SandboxProvider()

    first = await provider.send(OutboundMessage("+16505555555", MessageType.TEXT, {"body": "Hi"}))
    second = await provider.send(OutboundMessage("16505555555", MessageType.TEXT, {"body": "Hi"}))

    assert first.provider_message_id.startswith("wamid.SANDBOX.")
    assert first.provider_message_id != second.provider_message_id
    assert first.wa_id == "16505555555"


async def test_sandbox_refuses_what_meta_would_refuse() -> None:
    message = OutboundMessage("16505555555", MessageType.TEMPLATE, {"name": "welcome"})

    with pytest.raises(ProviderError) as caught:
        await SandboxProvider().send(message)

    assert caught.value.failure is FailureReason.INVALID_PARAMETER
