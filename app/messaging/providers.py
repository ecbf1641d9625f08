"""The WhatsApp provider a device speaks through, and its webhook secret.

Jobs and the webhook route use this without the GraphQL layer: importing it must not build
the schema (a ``parley worker`` process never does).
"""

from __future__ import annotations

from app.models.messaging import Device, MessageType, Provider
from app.platform.config import Settings
from app.platform.security import decrypt_secret
from app.whatsapp.base import Provider as WhatsAppProvider
from app.whatsapp.cloud_api import CloudApiProvider, RetryPolicy
from app.whatsapp.sandbox import SandboxProvider
from app.whatsapp.types import MessageType as WireType


def provider_for(
    settings: Settings, device: Device, *, retry: RetryPolicy | None = None
) -> WhatsAppProvider:
    if device.provider is Provider.SANDBOX:
        return SandboxProvider()
    if not device.access_token_encrypted or not device.phone_number_id:
        raise ValueError(f"device {device.id} has no Cloud API credentials")
    return CloudApiProvider(
        phone_number_id=device.phone_number_id,
        access_token=decrypt_secret(settings, device.access_token_encrypted),
        base_url=settings.whatsapp_graph_url,
        api_version=settings.whatsapp_graph_api_version,
        retry=retry,
    )


def app_secret(settings: Settings, device: Device) -> str | None:
    if not device.app_secret_encrypted:
        return None
    return decrypt_secret(settings, device.app_secret_encrypted)


def wire_type(kind: MessageType) -> WireType:
    """The providers' name for a stored message type (TEXT → ``text``)."""
    return WireType(kind.value.lower())
