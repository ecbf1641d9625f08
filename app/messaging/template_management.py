"""Templates at Meta: submit one for review, with its header sample, and delete one.

A CLOUD_API device's template lives at Meta, in the device's WhatsApp Business Account; the
row here follows it (Meta's id, status, quality, and why it was rejected), moved on by the
template webhooks (app.messaging.account_updates) and by syncTemplates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from app.messaging.providers import provider_for
from app.models.messaging import Device, Template, TemplateStatus
from app.platform.config import Settings
from app.whatsapp.cloud_api import TEMPLATE_NAME_TAKEN, CloudApiProvider
from app.whatsapp.errors import ProviderError

NAME_TAKEN_CODE = 192  # the older answer to a name already used
UNKNOWN_TEMPLATE_SUBCODE = 2593002  # deleting a template Meta does not have
SAMPLE_TYPES = {
    "IMAGE": ("image/jpeg", "image/png"),
    "VIDEO": ("video/mp4",),
    "DOCUMENT": ("application/pdf",),
}
SAMPLE_MAX_BYTES = {"IMAGE": 5 * 2**20, "VIDEO": 16 * 2**20, "DOCUMENT": 100 * 2**20}


@dataclass(frozen=True)
class Sample:
    """The example file of a media header, as uploaded with createTemplate."""

    data: bytes
    mime_type: str
    file_name: str


class TemplateRefused(Exception):
    """Meta (or the input) refused the template; ``taken`` when its name is used already."""

    def __init__(self, message: str, *, field: str = "components", taken: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.taken = taken


def header_format(components: list[Any]) -> str | None:
    for component in components:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "HEADER":
            return str(component.get("format", "TEXT")).upper()
    return None


def sample_problem(components: list[Any], sample: Sample | None) -> str | None:
    """Why ``sample`` cannot be the example of the template's header, or None."""
    if sample is None:
        return None
    kind = header_format(components)
    if kind not in SAMPLE_TYPES:
        return "Only an IMAGE, VIDEO or DOCUMENT header takes a sample file."
    if sample.mime_type not in SAMPLE_TYPES[kind]:
        return f"A {kind} header's sample is {' or '.join(SAMPLE_TYPES[kind])}."
    if not sample.data or len(sample.data) > SAMPLE_MAX_BYTES[kind]:
        return f"A {kind} header's sample is 1 byte to {SAMPLE_MAX_BYTES[kind] // 2**20} MB."
    return None


def _cloud(settings: Settings, device: Device) -> CloudApiProvider:
    provider = provider_for(settings, device)
    assert isinstance(provider, CloudApiProvider)
    return provider


async def submit(
    settings: Settings, device: Device, template: Template, sample: Sample | None
) -> None:
    """Send ``template`` to Meta for review and record Meta's id and status on it; raises
    TemplateRefused with Meta's reason."""
    assert device.waba_id is not None
    provider = _cloud(settings, device)
    components = copy.deepcopy(list(template.components or []))
    try:
        if sample is not None:
            if not device.app_id:
                raise TemplateRefused(
                    "Set the device's `cloudApi.appId` (the Meta app) to upload header samples.",
                    field="headerSample",
                )
            handle = await provider.upload_sample(
                device.app_id, sample.data, sample.mime_type, sample.file_name
            )
            for component in components:
                if str(component.get("type", "")).upper() == "HEADER":
                    component["example"] = {"header_handle": [handle]}
        answer = await provider.create_template(
            device.waba_id,
            {
                "name": template.name,
                "language": template.language,
                "category": template.category,
                "components": components,
            },
        )
    except ProviderError as error:
        taken = error.subcode in TEMPLATE_NAME_TAKEN or error.code == NAME_TAKEN_CODE
        raise TemplateRefused(
            "This template name is already used for this language at Meta."
            if taken
            else f"Meta refused the template: {error.details or error.message}",
            field="name" if taken else "components",
            taken=taken,
        ) from error
    status = str(answer.get("status", "PENDING")).upper()
    template.meta_id = str(answer["id"]) if answer.get("id") is not None else None
    template.status = (
        TemplateStatus(status) if status in TemplateStatus.__members__ else TemplateStatus.PENDING
    )
    template.components = components
    await template.save(update_fields=["meta_id", "status", "components", "updated_at"])


async def delete_at_meta(settings: Settings, device: Device, template: Template) -> None:
    """Delete ``template`` at Meta; one Meta no longer has counts as deleted."""
    if device.waba_id is None:
        return
    try:
        await _cloud(settings, device).delete_template(
            device.waba_id, template.name, template.meta_id
        )
    except ProviderError as error:
        if error.subcode == UNKNOWN_TEMPLATE_SUBCODE:
            return
        raise TemplateRefused(
            f"Meta did not delete the template: {error.details or error.message}",
            field="templateId",
        ) from error
