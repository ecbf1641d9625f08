"""Templates: created per device, or pulled from the WABA for CLOUD_API devices."""

from __future__ import annotations

import re
from typing import Any

from tortoise.exceptions import IntegrityError

from app.messaging.jobs import SYNC_TEMPLATES
from app.models.messaging import Device, Provider, Template, TemplateStatus
from app.platform.context import Info
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
) -> tuple[Template | None, list[UserError]]:
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
    if not _components_ok(components):
        errors.append(
            user_error(
                "components",
                "Components are a list of objects with a `type`, one of them a BODY with `text`.",
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
    return template, []


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


def _components_ok(components: Any) -> bool:
    if not isinstance(components, list) or not all(
        isinstance(c, dict) and isinstance(c.get("type"), str) for c in components
    ):
        return False
    return any(
        c["type"].upper() == "BODY" and isinstance(c.get("text"), str) and c["text"].strip()
        for c in components
    )
