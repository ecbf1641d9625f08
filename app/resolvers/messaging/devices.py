"""Devices: create, update, delete, connect; the provider a device speaks through."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import cast

import structlog

from app.messaging import pairing
from app.messaging.files import delete_files
from app.messaging.phones import to_e164
from app.messaging.pipeline import set_device_status
from app.messaging.providers import provider_for
from app.models.messaging import Device, DeviceStatus, Message, Provider
from app.plans import quotas
from app.plans.limits import Limit
from app.platform.config import Settings
from app.platform.context import Info
from app.platform.failures import retrying_deadlocks
from app.platform.ids import decode_id, to_global_id
from app.platform.pubsub import Broker
from app.platform.scope import organization_id
from app.platform.security import encrypt_secret
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import audit
from app.whatsapp.errors import FailureReason, ProviderError

MAX_MESSAGES_PER_SECOND = 1000

log = structlog.get_logger("parley.messaging")


@dataclass
class CloudApiCredentials:
    phone_number_id: str | None = None
    access_token: str | None = None
    app_secret: str | None = None
    verify_token: str | None = None
    waba_id: str | None = None
    app_id: str | None = None


async def find_device(info: Info, device_id: str, field: str = "deviceId") -> Device | None:
    pk = decode_id(device_id, "Device", field=("input", field))
    return await Device.get_or_none(id=pk, organization_id=organization_id(info))


def not_found(field: str, what: str = "device") -> UserError:
    return user_error(field, f"No such {what}.", UserErrorCode.NOT_FOUND)


async def create_device(
    info: Info,
    *,
    name: str,
    phone_number: str,
    provider: Provider,
    cloud_api: CloudApiCredentials | None,
    messages_per_second: int | None,
    requires_pairing: bool = False,
) -> tuple[Device | None, list[UserError]]:
    errors: list[UserError] = []
    if requires_pairing and provider is not Provider.SANDBOX:
        errors.append(
            user_error(
                "requiresPairing",
                "Only SANDBOX devices pair by QR code; a CLOUD_API number connects with its "
                "credentials.",
                UserErrorCode.INVALID,
            )
        )
    e164 = to_e164(phone_number)
    if e164 is None:
        errors.append(_bad_phone("phoneNumber"))
    if not name.strip():
        errors.append(user_error("name", "Give the device a name.", UserErrorCode.REQUIRED))
    errors += _check_rate(messages_per_second)
    if provider is Provider.CLOUD_API:
        cloud_api = cloud_api or CloudApiCredentials()
        for key, value in (
            ("phoneNumberId", cloud_api.phone_number_id),
            ("accessToken", cloud_api.access_token),
            ("appSecret", cloud_api.app_secret),
        ):
            if not value:
                errors.append(
                    user_error(
                        ["input", "cloudApi", key],
                        f"`{key}` is required for a CLOUD_API device.",
                        UserErrorCode.REQUIRED,
                    )
                )
    if errors:
        return None, errors
    assert e164 is not None
    settings = info.context.settings
    device = Device(
        organization_id=organization_id(info),
        name=name.strip(),
        phone_number=e164,
        provider=provider,
        messages_per_second=messages_per_second or 80,
        verify_token=secrets.token_urlsafe(24),
        pairing_required=requires_pairing,
    )
    if cloud_api is not None and provider is Provider.CLOUD_API:
        _set_credentials(settings, device, cloud_api)
    async with quotas.capacity(info.context.runtime, device.organization_id, Limit.DEVICES) as no:
        if no is not None:
            return None, [no.user_error()]
        await device.save()
    if cloud_api is not None and provider is Provider.CLOUD_API:
        await _audit_credentials(info, device, cloud_api)
    return device, []


async def update_device(
    info: Info,
    *,
    device_id: str,
    name: str | None,
    messages_per_second: int | None,
    cloud_api: CloudApiCredentials | None,
) -> tuple[Device | None, list[UserError]]:
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    errors = _check_rate(messages_per_second)
    if name is not None and not name.strip():
        errors.append(user_error("name", "Give the device a name.", UserErrorCode.REQUIRED))
    if cloud_api is not None and device.provider is not Provider.CLOUD_API:
        errors.append(
            user_error(
                "cloudApi", "Only CLOUD_API devices have credentials.", UserErrorCode.INVALID
            )
        )
    if errors:
        return None, errors
    if name is not None:
        device.name = name.strip()
    if messages_per_second is not None:
        device.messages_per_second = messages_per_second
    if cloud_api is not None:
        _set_credentials(info.context.settings, device, cloud_api)
    await device.save()
    if cloud_api is not None:
        await _audit_credentials(info, device, cloud_api)
    return device, []


async def delete_device(info: Info, *, device_id: str) -> tuple[int | None, list[UserError]]:
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    # Its conversations and messages go with it, and the files only they carried.
    media_ids = await Message.filter(device_id=device.id, media_id__isnull=False).values_list(
        "media_id", flat=True
    )
    # The cascade reaches conversations, messages and campaigns, locking them in its own order:
    # a send or a status being applied meanwhile can deadlock with it, and the delete that
    # PostgreSQL fails to settle it is simply run again.
    await retrying_deadlocks(device.delete, name="delete_device")
    await delete_files(
        info.context.runtime.settings, device.organization_id, cast("list[int]", media_ids)
    )
    return device.id, []


async def connect_device(info: Info, *, device_id: str) -> tuple[Device | None, list[UserError]]:
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    if device.provider is Provider.CLOUD_API and not device.access_token_encrypted:
        return None, [
            user_error("deviceId", "Set the Cloud API credentials first.", UserErrorCode.INVALID)
        ]
    broker = info.context.runtime.broker
    if device.provider is Provider.CLOUD_API:
        return await _connect_cloud_api(info.context.settings, broker, device)
    if device.pairing_required:
        runtime = info.context.runtime
        if not await pairing.start_pairing(runtime.settings, broker, runtime.queues, device):
            return None, [_cannot_connect(device)]
        return device, []
    # The sandbox connects at once.
    if not await set_device_status(broker, device, DeviceStatus.CONNECTED):
        return None, [_cannot_connect(device)]
    return device, []


async def simulate_qr_scan(
    info: Info, *, device_id: str, qr_code: str
) -> tuple[Device | None, list[UserError]]:
    """The phone scans the QR code a pairing SANDBOX device shows."""
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    if device.provider is not Provider.SANDBOX or not device.pairing_required:
        return None, [
            user_error(
                "deviceId",
                "Only SANDBOX devices created with `requiresPairing` show a QR code.",
                UserErrorCode.INVALID,
            )
        ]
    if device.status is not DeviceStatus.QR_REQUIRED:
        return device, [
            user_error(
                "deviceId",
                f"The device is {device.status.value}, not showing a QR code: connectDevice "
                "starts the pairing.",
                UserErrorCode.CONFLICT,
            )
        ]
    try:
        await pairing.scan(info.context.runtime.broker, device, qr_code)
    except pairing.PairingRefused as refused:
        return device, [user_error("qrCode", str(refused), UserErrorCode.INVALID)]
    return device, []


async def _connect_cloud_api(
    settings: Settings, broker: Broker, device: Device
) -> tuple[Device | None, list[UserError]]:
    """CONNECTING while Meta is asked about the number, then CONNECTED, or why not."""
    if device.status is not DeviceStatus.CONNECTED and not await set_device_status(
        broker, device, DeviceStatus.CONNECTING
    ):
        return None, [_cannot_connect(device)]
    try:
        await provider_for(settings, device).verify()
    except ProviderError as error:
        status, message = _refusal(device, error)
        log.warning(
            "messaging.device_connect_refused",
            device_id=device.id,
            failure=str(error.failure),
            code=error.code,
            http_status=error.http_status,
        )
        await set_device_status(broker, device, status)
        return device, [user_error("deviceId", message, UserErrorCode.INVALID)]
    await set_device_status(broker, device, DeviceStatus.CONNECTED)
    return device, []


def _refusal(device: Device, error: ProviderError) -> tuple[DeviceStatus, str]:
    """The status a failed credentials check leaves, and a sentence without any secret."""
    if error.failure is FailureReason.AUTH_INVALID:
        return DeviceStatus.DISCONNECTED, (
            "Meta refused the access token (expired or invalid): set a new `accessToken` with "
            "updateDevice, then connect again."
        )
    if error.retryable:
        return DeviceStatus.DISCONNECTED, (
            "Meta's Graph API could not be reached or is busy; try connecting again shortly."
        )
    if error.failure is FailureReason.ACCOUNT_RESTRICTED:
        return DeviceStatus.FAILED, (
            f"Meta reports the WhatsApp account as restricted or locked (code {error.code})."
        )
    return DeviceStatus.FAILED, (
        f"Meta has no phone number id `{device.phone_number_id}` that this access token may "
        f"use (code {error.code}): check `phoneNumberId` and the token's permissions."
    )


def _cannot_connect(device: Device) -> UserError:
    return user_error(
        "deviceId",
        f"A {device.status.value} device cannot be connected.",
        UserErrorCode.CONFLICT,
    )


def _set_credentials(settings: Settings, device: Device, credentials: CloudApiCredentials) -> None:
    if credentials.phone_number_id:
        device.phone_number_id = credentials.phone_number_id
    if credentials.access_token:
        device.access_token_encrypted = encrypt_secret(settings, credentials.access_token)
    if credentials.app_secret:
        device.app_secret_encrypted = encrypt_secret(settings, credentials.app_secret)
    if credentials.verify_token:
        device.verify_token = credentials.verify_token
    if credentials.waba_id:
        device.waba_id = credentials.waba_id
    if credentials.app_id:
        device.app_id = credentials.app_id


async def _audit_credentials(info: Info, device: Device, credentials: CloudApiCredentials) -> None:
    """Who set which credentials of which number; the values themselves never."""
    changed = [
        name
        for name, value in (
            ("phoneNumberId", credentials.phone_number_id),
            ("accessToken", credentials.access_token),
            ("appSecret", credentials.app_secret),
            ("verifyToken", credentials.verify_token),
            ("wabaId", credentials.waba_id),
            ("appId", credentials.app_id),
        )
        if value
    ]
    if not changed:
        return
    viewer = info.context.viewer
    await audit(
        info,
        "DEVICE_CREDENTIALS_CHANGED",
        actor_id=viewer.user.id if viewer is not None else None,
        organization_id=device.organization_id,
        device_id=to_global_id("Device", device.id),
        credentials=changed,
    )


def _check_rate(messages_per_second: int | None) -> list[UserError]:
    if messages_per_second is None or 1 <= messages_per_second <= MAX_MESSAGES_PER_SECOND:
        return []
    return [
        user_error(
            "messagesPerSecond",
            f"Messages per second must be between 1 and {MAX_MESSAGES_PER_SECOND}.",
            UserErrorCode.INVALID,
        )
    ]


def _bad_phone(field: str) -> UserError:
    return user_error(
        field,
        f"`{field}` must be a valid phone number in E.164 format, e.g. +16505551234.",
        UserErrorCode.INVALID,
    )


bad_phone = _bad_phone
