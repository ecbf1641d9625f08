"""What Meta says about a WhatsApp Business Account besides messages: template reviews and
ratings, and the number's health (quality rating, messaging limit tier, account standing).

Each update is applied on its own (app.messaging.deliveries) and is safe to apply twice: it
sets values, it never counts.
"""

from __future__ import annotations

import re

import structlog

from app.messaging.pipeline import set_device_status
from app.models.messaging import Device, DeviceStatus, QualityRating, Template, TemplateStatus
from app.platform import clock, events
from app.platform.pubsub import Broker
from app.whatsapp.types import NumberHealthUpdate, TemplateUpdate

log = structlog.get_logger("parley.messaging")

# message_template_status_update's events → the template's status; the others (FLAGGED: the
# quality dropped, a PAUSE may follow) leave the status as it is.
_TEMPLATE_STATUS = {
    "APPROVED": TemplateStatus.APPROVED,
    "REINSTATED": TemplateStatus.APPROVED,
    "REJECTED": TemplateStatus.REJECTED,
    "PENDING": TemplateStatus.PENDING,
    "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED,
}
# phone_number_quality_update's events → the number's quality rating: FLAGGED means the
# rating fell to low, UNFLAGGED that it recovered, DOWNGRADE that the tier fell because it
# stayed low; UPGRADE only moves the tier.
_NUMBER_QUALITY = {
    "FLAGGED": QualityRating.RED,
    "UNFLAGGED": QualityRating.GREEN,
    "DOWNGRADE": QualityRating.RED,
}
BANNED = "DISABLE"  # account_update ban_info.waba_ban_state: the account can no longer send


def wrong_account(device: Device, update: TemplateUpdate | NumberHealthUpdate) -> str | None:
    """Why an update is not this device's to apply, or None."""
    if device.waba_id and update.waba_id and update.waba_id != device.waba_id:
        return f"for business account {update.waba_id}, not this device's"
    phone = update.phone_number if isinstance(update, NumberHealthUpdate) else None
    if phone and _digits(phone) != _digits(device.phone_number):
        return "for another phone number than this device's"
    return None


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


async def apply_template_update(broker: Broker, device: Device, update: TemplateUpdate) -> None:
    """Move the templates Meta names (this device's, and those of its organization's other
    numbers on the same business account) to their new status or quality."""
    templates = await _templates(device, update)
    if not templates:
        log.info("messaging.template_update_unmatched", device_id=device.id)
        return
    changes: dict[str, object] = {}
    kind = "QUALITY_CHANGED"
    if update.event is not None and (status := _TEMPLATE_STATUS.get(update.event)):
        changes["status"] = status
        changes["rejected_reason"] = update.reason if status is TemplateStatus.REJECTED else None
        kind = "STATUS_CHANGED"
    if update.quality is not None and update.quality in QualityRating.__members__:
        changes["quality_rating"] = QualityRating(update.quality)
    if not changes:
        return
    for template in templates:
        if all(getattr(template, name) == value for name, value in changes.items()):
            continue  # a redelivery: nothing moves, nobody is told twice
        async with events.transaction():
            await Template.filter(id=template.id).update(**changes, updated_at=clock.now())
            template.update_from_dict(changes)
            await events.publish(broker, events.TemplateEvent.of(template, kind))


async def _templates(device: Device, update: TemplateUpdate) -> list[Template]:
    devices = [device.id]
    if device.waba_id:
        devices = list(
            await Device.filter(
                organization_id=device.organization_id, waba_id=device.waba_id
            ).values_list("id", flat=True)
        )
    if update.template_id is not None:
        found = await Template.filter(device_id__in=devices, meta_id=update.template_id)
        if found:
            return list(found)
    if update.name is None:
        return []
    named = Template.filter(device_id__in=devices, name=update.name)
    if update.language is not None:
        named = named.filter(language=update.language)
    return list(await named)


async def apply_number_health(broker: Broker, device: Device, update: NumberHealthUpdate) -> None:
    """Set the number's quality rating and messaging limit tier; a banned account FAILS."""
    changes: dict[str, object] = {}
    quality = update.quality if update.quality in QualityRating.__members__ else None
    if quality is not None:
        changes["quality_rating"] = QualityRating(quality)
    elif update.field == "phone_number_quality_update" and update.event in _NUMBER_QUALITY:
        changes["quality_rating"] = _NUMBER_QUALITY[update.event]
    if update.current_limit:
        changes["messaging_limit_tier"] = update.current_limit
    if update.field == "account_update" and update.event:
        changes["account_event"] = update.event[:64]
    changed = {name: v for name, v in changes.items() if getattr(device, name) != v}
    if changed:
        async with events.transaction():
            await Device.filter(id=device.id).update(**changed, updated_at=clock.now())
            for name, value in changed.items():
                setattr(device, name, value)
            await events.publish(broker, events.DeviceEvent.of(device, "HEALTH_CHANGED"))
    if update.field == "account_update" and update.ban_state == BANNED:
        await set_device_status(broker, device, DeviceStatus.FAILED)
