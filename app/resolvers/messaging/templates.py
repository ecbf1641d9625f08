"""Templates: created per device, or pulled from the WABA for CLOUD_API devices."""

from __future__ import annotations

import re
from typing import Any

from tortoise.exceptions import IntegrityError

from app.messaging import template_management
from app.messaging.jobs import SYNC_TEMPLATES
from app.messaging.template_management import Sample, TemplateRefused
from app.models.messaging import Device, Provider, Template, TemplateStatus
from app.platform import events
from app.platform.context import Info
from app.platform.ids import decode_id, to_global_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.messaging.devices import find_device, not_found

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
_NAME = re.compile(r"[a-z0-9_]{1,512}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")


async def create_template(
    info: Info,
    *,
    device_id: str,
    name: str,
    language: str,
    category: str,
    components: Any,
    header_sample: Sample | None = None,
) -> tuple[Template | None, list[UserError]]:
    """A SANDBOX template is APPROVED at once; a CLOUD_API one is submitted to Meta for review
    (PENDING, until the template webhooks say more)."""
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    errors: list[UserError] = []
    if not _NAME.fullmatch(name):
        errors.append(
            user_error(
                "name",
                "A template name is lower-case letters, digits and underscores.",
                UserErrorCode.INVALID,
            )
        )
    if not _LANGUAGE.fullmatch(language):
        errors.append(
            user_error("language", "Give a language code such as `en_US`.", UserErrorCode.INVALID)
        )
    if category.upper() not in CATEGORIES:
        errors.append(
            user_error(
                "category", f"Category is one of {', '.join(CATEGORIES)}.", UserErrorCode.INVALID
            )
        )
    if not _components_ok(components, category.upper()):
        errors.append(
            user_error(
                "components",
                "Components are a list of objects with a `type`, one of them a BODY with `text`.",
                UserErrorCode.INVALID,
            )
        )
    elif problem := template_management.sample_problem(components, header_sample):
        errors.append(user_error("headerSample", problem, UserErrorCode.INVALID))
    cloud = device.provider is Provider.CLOUD_API
    if cloud and not device.waba_id:
        errors.append(
            user_error(
                "deviceId",
                "Set the device's `cloudApi.wabaId`: Meta keeps templates per business account.",
                UserErrorCode.INVALID,
            )
        )
    if errors:
        return None, errors
    try:
        template = await Template.create(
            organization_id=device.organization_id,
            device_id=device.id,
            name=name,
            language=language,
            category=category.upper(),
            components=components,
            # Meta reviews a Cloud API template; the sandbox approves at once.
            status=TemplateStatus.APPROVED
            if device.provider is Provider.SANDBOX
            else TemplateStatus.PENDING,
        )
    except IntegrityError:
        return None, [
            user_error(
                "name",
                "This device has a template with this name and language.",
                UserErrorCode.TAKEN,
            )
        ]
    if cloud:
        try:
            await template_management.submit(
                info.context.runtime.settings, device, template, header_sample
            )
        except TemplateRefused as refused:
            await template.delete()
            code = UserErrorCode.TAKEN if refused.taken else UserErrorCode.INVALID
            return None, [user_error(refused.field, str(refused), code)]
    await events.publish(info.context.runtime.broker, events.TemplateEvent.of(template, "CREATED"))
    return template, []


async def delete_template(info: Info, *, template_id: str) -> tuple[str | None, list[UserError]]:
    """Delete a template here and, for a CLOUD_API device, at Meta; the deleted id."""
    pk = decode_id(template_id, "Template", field=("input", "templateId"))
    template = await Template.get_or_none(id=pk, organization_id=organization_id(info))
    if template is None:
        return None, [not_found("templateId", "template")]
    device = await Device.get(id=template.device_id)
    if device.provider is Provider.CLOUD_API:
        try:
            await template_management.delete_at_meta(
                info.context.runtime.settings, device, template
            )
        except TemplateRefused as refused:
            return None, [user_error(refused.field, str(refused), UserErrorCode.CONFLICT)]
    async with events.transaction():
        await template.delete()
        await events.publish(
            info.context.runtime.broker, events.TemplateEvent.of(template, "DELETED")
        )
    return to_global_id("Template", pk), []


async def start_sync(info: Info, *, device_id: str) -> tuple[Device | None, list[UserError]]:
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    if device.provider is not Provider.CLOUD_API or not device.waba_id:
        return None, [
            user_error(
                "deviceId",
                "Only a CLOUD_API device with a `wabaId` has templates to sync.",
                UserErrorCode.INVALID,
            )
        ]
    await info.context.runtime.queues.enqueue(
        SYNC_TEMPLATES,
        key=f"sync-templates:{device.id}",
        device_id=device.id,
        retries=3,
        retry_delay=2.0,
        retry_backoff=True,
        timeout=120,
    )
    return device, []


def _components_ok(components: Any, category: str) -> bool:
    if not isinstance(components, list) or not all(
        isinstance(c, dict) and isinstance(c.get("type"), str) for c in components
    ):
        return False
    bodies = [c for c in components if c["type"].upper() == "BODY"]
    if category == "AUTHENTICATION":
        return len(bodies) == 1  # Meta writes the body ("{{1}} is your verification code.")
    return any(isinstance(c.get("text"), str) and c["text"].strip() for c in bodies)


async def sample_from(upload: Any) -> Sample | None:
    """A header sample uploaded with createTemplate (the GraphQL multipart request spec)."""
    if upload is None:
        return None
    data = await upload.read()
    return Sample(
        data if isinstance(data, bytes) else str(data).encode(),
        str(getattr(upload, "content_type", None) or "application/octet-stream"),
        str(getattr(upload, "filename", None) or "sample"),
    )
