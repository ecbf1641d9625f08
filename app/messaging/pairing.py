"""Simulated QR pairing of a SANDBOX device, shaped like linking a WhatsApp Web session.

connectDevice shows a QR code (QR_REQUIRED); every ``sandbox_qr_ttl_seconds`` a job replaces it
with a new one, and after ``sandbox_qr_codes`` unscanned codes the pairing gives up
(DISCONNECTED; connect again to restart). simulateQrScan plays the phone scanning the code
currently shown: CONNECTING, then CONNECTED. An expired or replaced code is refused.
"""

from __future__ import annotations

import base64
import hmac
import math
import secrets
from datetime import timedelta

from app.messaging.jobs import ROTATE_SANDBOX_QR
from app.messaging.pipeline import set_device_status
from app.models.messaging import DEVICE_TRANSITIONS, Device, DeviceStatus
from app.platform import clock, events
from app.platform.config import Settings
from app.platform.pubsub import Broker
from app.platform.queues import Queues


class PairingRefused(Exception):
    """The scanned code is not the one shown, or it has expired."""


def _new_code() -> str:
    # WhatsApp Web's QR holds "ref,noise key,identity key,adv secret"; this one looks alike.
    keys = ",".join(base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))
    return f"2@{secrets.token_urlsafe(24)},{keys}"


async def start_pairing(settings: Settings, broker: Broker, queues: Queues, device: Device) -> bool:
    """QR_REQUIRED with a fresh code; False when the device's status does not allow it."""
    if device.status in (DeviceStatus.QR_REQUIRED, DeviceStatus.CONNECTED):
        return True  # already pairing (the current code stays), or already paired
    async with events.transaction():
        if not await _show(settings, queues, device, shown=1, status=DeviceStatus.QR_REQUIRED):
            return False
        await events.publish(broker, events.DeviceEvent.of(device))
    return True


async def rotate(
    settings: Settings, broker: Broker, queues: Queues, device_id: int, *, code: str, shown: int
) -> None:
    """Replace an unscanned ``code`` by the next one, or end the pairing after the last."""
    device = await Device.get_or_none(id=device_id)
    if device is None or device.status is not DeviceStatus.QR_REQUIRED or device.qr_code != code:
        return  # scanned, restarted or deleted meanwhile
    if shown >= settings.sandbox_qr_codes:
        cleared = await Device.filter(id=device.id, qr_code=code).update(
            qr_code=None, qr_expires_at=None
        )
        if cleared:
            device.qr_code = device.qr_expires_at = None
            await set_device_status(broker, device, DeviceStatus.DISCONNECTED)
        return
    async with events.transaction():
        if await _show(settings, queues, device, shown=shown + 1, replacing=code):
            await events.publish(broker, events.DeviceEvent.of(device))


async def scan(broker: Broker, device: Device, code: str) -> None:
    """The phone scans ``code``: CONNECTING, then CONNECTED; PairingRefused if it is stale."""
    now = clock.now()
    current = device.qr_code or ""
    if not hmac.compare_digest(current.encode(), code.encode()):
        raise PairingRefused("This is not the QR code the device shows now.")
    if device.qr_expires_at is None or device.qr_expires_at <= now:
        raise PairingRefused("This QR code has expired; scan the one shown now.")
    # Conditional, so a rotation or a second scan racing this one cannot both win. (A queryset
    # update skips the device cache's signals; it only caches CLOUD_API devices for webhooks.)
    async with events.transaction():
        claimed = await Device.filter(
            id=device.id, status=DeviceStatus.QR_REQUIRED, qr_code=current, qr_expires_at__gt=now
        ).update(status=DeviceStatus.CONNECTING, qr_code=None, qr_expires_at=None, updated_at=now)
        if not claimed:
            raise PairingRefused("This QR code has just been replaced; scan the one shown now.")
        device.status, device.qr_code, device.qr_expires_at = DeviceStatus.CONNECTING, None, None
        await events.publish(broker, events.DeviceEvent.of(device))
    await set_device_status(broker, device, DeviceStatus.CONNECTED)


async def _show(
    settings: Settings,
    queues: Queues,
    device: Device,
    *,
    shown: int,
    status: DeviceStatus | None = None,
    replacing: str | None = None,
) -> bool:
    now = clock.now()
    code = _new_code()
    expires_at = now + timedelta(seconds=settings.sandbox_qr_ttl_seconds)
    changes: dict[str, object] = {"qr_code": code, "qr_expires_at": expires_at, "updated_at": now}
    query = Device.filter(id=device.id)
    if status is not None:
        if status not in DEVICE_TRANSITIONS[DeviceStatus(device.status)]:
            return False
        changes["status"] = status
        query = query.filter(status=device.status)
    if replacing is not None:
        query = query.filter(qr_code=replacing)
    if not await query.update(**changes):
        return False
    device.qr_code, device.qr_expires_at = code, expires_at
    if status is not None:
        device.status = status
    await queues.enqueue(
        ROTATE_SANDBOX_QR,
        key=f"rotate-qr:{device.id}:{shown}:{code[:16]}",
        scheduled=math.ceil(expires_at.timestamp()),
        device_id=device.id,
        code=code,
        shown=shown,
        timeout=30,
    )
    return True
