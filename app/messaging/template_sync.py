"""Pulling a Cloud API device's templates from its WhatsApp Business Account (a job).

Templates are matched on (name, language): known ones are updated, new ones added; none is
deleted, since messages may still refer to them. Importing this module must not build the
GraphQL schema (the worker process imports it).
"""

from __future__ import annotations

from typing import Any

from app.messaging.providers import provider_for
from app.models.messaging import Device, Provider, QualityRating, Template, TemplateStatus
from app.platform.config import Settings
from app.whatsapp.cloud_api import CloudApiProvider


class DeviceNotFound(Exception):
    def __init__(self, device_id: int) -> None:
        super().__init__(f"device {device_id} does not exist")


async def run_sync(settings: Settings, device_id: int) -> int:
    """Upsert the WABA's templates; how many were seen."""
    device = await Device.get_or_none(id=device_id)
    if device is None:
        raise DeviceNotFound(device_id)
    if device.provider is not Provider.CLOUD_API or not device.waba_id:
        return 0
    provider = provider_for(settings, device)
    assert isinstance(provider, CloudApiProvider)
    remote = await provider.list_templates(device.waba_id)
    for item in remote:
        await _upsert(device, item)
    return len(remote)


async def _upsert(device: Device, item: dict[str, Any]) -> None:
    name, language = item.get("name"), item.get("language")
    if not isinstance(name, str) or not isinstance(language, str):
        return
    status = str(item.get("status", "")).upper()
    quality = item.get("quality_score")
    score = str(quality.get("score", "")).upper() if isinstance(quality, dict) else ""
    reason = item.get("rejected_reason")
    values: dict[str, Any] = {
        "meta_id": str(item["id"]) if item.get("id") is not None else None,
        "quality_rating": QualityRating(score) if score in QualityRating.__members__ else None,
        "rejected_reason": reason if isinstance(reason, str) and reason != "NONE" else None,
        "category": str(item.get("category") or "UTILITY").upper(),
        "components": item.get("components") if isinstance(item.get("components"), list) else [],
        "status": TemplateStatus(status)
        if status in TemplateStatus.__members__
        else TemplateStatus.PENDING,
    }
    await Template.update_or_create(
        defaults=values,
        organization_id=device.organization_id,
        device_id=device.id,
        name=name,
        language=language,
    )
