"""createCampaign, startCampaign, pauseCampaign, resumeCampaign and cancelCampaign.

Each state change is one conditional UPDATE on the current status, so two admins (or an admin
and the scheduler) racing on one campaign cannot both win.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from app.campaigns import progress, quota
from app.campaigns.audience import template_patterns, variables_of
from app.campaigns.jobs import START_SCHEDULED_CAMPAIGN
from app.campaigns.runs import begin_run
from app.messaging import template_messages
from app.models.campaigns import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from app.models.messaging import Device, DeviceStatus, Template
from app.plans import quotas
from app.plans.limits import Limit
from app.platform import clock
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.messaging.devices import find_device, not_found
from app.resolvers.messaging.messages import (
    MAX_TEXT,
    TemplateContent,
    sendable_problem,
    template_errors,
    template_values,
)

Result = tuple[Campaign | None, list[UserError]]
_KNOWN_VARIABLES = ("name", "phone", "phoneNumber")


TemplateSpec = TemplateContent  # a campaign's template takes what sendMessage's does
_TEMPLATE_PATH = ["input", "template"]


async def find_campaign(info: Info, campaign_id: str) -> Campaign | None:
    pk = decode_id(campaign_id, "Campaign", field=("input", "campaignId"))
    return await Campaign.get_or_none(id=pk, organization_id=organization_id(info))


async def create_campaign(
    info: Info,
    *,
    name: str,
    device_id: str,
    text: str | None,
    template: TemplateSpec | None,
    contact_ids: list[str] | None,
    tags: list[str] | None,
    scheduled_at: datetime | None,
) -> Result:
    errors: list[UserError] = []
    if not name.strip() or len(name) > 200:
        errors.append(
            user_error("name", "Name must be 1 to 200 characters.", UserErrorCode.INVALID)
        )
    if (text is None) == (template is None):
        errors.append(
            user_error("text", "Give either `text` or `template`.", UserErrorCode.INVALID)
        )
    elif text is not None and not (text.strip() and len(text) <= MAX_TEXT):
        errors.append(
            user_error("text", f"Text must be 1 to {MAX_TEXT} characters.", UserErrorCode.INVALID)
        )
    elif template is not None and not (template.name.strip() and template.language.strip()):
        errors.append(
            user_error("template", "A template needs a name and a language.", UserErrorCode.INVALID)
        )
    if not contact_ids and not tags:
        errors.append(
            user_error(
                "contactIds", "Pick the audience: contact ids and/or tags.", UserErrorCode.REQUIRED
            )
        )
    if scheduled_at is not None and scheduled_at.astimezone(UTC) <= clock.now():
        errors.append(
            user_error(
                "scheduledAt", "The scheduled time must be in the future.", UserErrorCode.INVALID
            )
        )
    device = await find_device(info, device_id)
    if device is None:
        errors.append(not_found("deviceId"))
    if errors:
        return None, errors
    assert device is not None
    header: dict[str, Any] | None = None
    if template is not None:
        header, errors = await _template_header(device, template)
        if errors:
            return None, errors
    contact_pks = sorted(
        {
            decode_id(c, "Contact", field=("input", "contactIds", index))
            for index, c in enumerate(contact_ids or [])
        }
    )
    viewer = info.context.viewer
    assert viewer is not None
    runtime = info.context.runtime
    if no := await quotas.reserve(runtime, device.organization_id, Limit.CAMPAIGNS):
        return None, [no.user_error()]
    campaign = await Campaign.create(
        organization_id=device.organization_id,
        device_id=device.id,
        created_by_id=viewer.user.id,
        name=name.strip(),
        text=text,
        template_name=template.name.strip() if template else None,
        template_language=template.language.strip() if template else None,
        template_parameters=list(template.parameters) if template else [],
        template_header=header,
        template_buttons=[
            {"index": b.index, "sub_type": b.sub_type.lower(), "parameter": b.parameter}
            for b in template.buttons
        ]
        if template
        else [],
        audience_contact_ids=contact_pks,
        audience_tags=sorted({t.strip().lower() for t in tags or [] if t.strip()}),
        scheduled_at=scheduled_at,
        status=CampaignStatus.SCHEDULED if scheduled_at else CampaignStatus.DRAFT,
    )
    if scheduled_at is not None:
        await _enqueue_scheduled(info, campaign)
    return campaign, []


def variables_needed(campaign: Campaign) -> list[str]:
    """The variables the message needs from each contact (a preview for clients)."""
    return variables_of(campaign.text, *template_patterns(campaign))


async def _template_header(
    device: Device, template: TemplateContent
) -> tuple[dict[str, Any] | None, list[UserError]]:
    """The template's values checked against the device's stored template (as sendMessage
    checks them), and the header as the campaign keeps it; variables are left to each send."""
    if template.one_time_code is not None:
        return None, [
            user_error(
                [*_TEMPLATE_PATH, "oneTimeCode"],
                "A one-time code goes to one person: send it with sendMessage.",
                UserErrorCode.INVALID,
            )
        ]
    values, errors = await template_values(device, template, _TEMPLATE_PATH)
    if values is None:
        return None, errors
    stored = await Template.get_or_none(
        device_id=device.id, name=template.name.strip(), language=template.language.strip()
    )
    if stored is not None and (refusal := sendable_problem(device, stored)):
        return None, [user_error([*_TEMPLATE_PATH, "name"], refusal, UserErrorCode.CONFLICT)]
    problems = template_messages.check(stored, values)
    if needed := template_messages.header_format_needed(values, stored):
        problems.append(needed)
    if problems:
        return None, template_errors(problems, _TEMPLATE_PATH)
    if values.header is None:
        return None, []
    shape = template_messages.Shape.of(stored) if stored is not None else None
    header_format = (shape.header_format if shape else None) or "TEXT"
    kept = {"format": header_format}
    for key in ("text", "link", "media_file_id"):
        if (value := getattr(values.header, key)) is not None:
            kept[key] = value
    return kept, []


async def _enqueue_scheduled(info: Info, campaign: Campaign) -> None:
    assert campaign.scheduled_at is not None
    await info.context.runtime.queues.enqueue(
        START_SCHEDULED_CAMPAIGN,
        # One key per campaign and time: several workers, one start.
        key=f"campaign:{campaign.id}:scheduled:{int(campaign.scheduled_at.timestamp())}",
        # SAQ schedules in whole seconds: round up, never start before the time asked for.
        scheduled=math.ceil(campaign.scheduled_at.timestamp()),
        campaign_id=campaign.id,
        timeout=60,
    )


def _conflict(campaign: Campaign, action: str) -> list[UserError]:
    return [
        user_error(
            "campaignId",
            f"The campaign is {campaign.status.value}; it cannot be {action}.",
            UserErrorCode.CONFLICT,
        )
    ]


async def start_campaign(info: Info, *, campaign_id: str) -> Result:
    campaign = await find_campaign(info, campaign_id)
    if campaign is None:
        return None, [not_found("campaignId", "campaign")]
    device = await campaign.device
    if device.status is not DeviceStatus.CONNECTED:
        return campaign, [
            user_error(
                "campaignId",
                f"The device is {device.status.value}; connect it before starting.",
                UserErrorCode.CONFLICT,
            )
        ]
    runtime = info.context.runtime
    allowed = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    if campaign.status in allowed and (no := await quota.check_start(runtime, campaign)):
        return campaign, [no.user_error("campaignId")]
    if not await begin_run(runtime.broker, runtime.queues, campaign.id, allowed=allowed):
        return campaign, _conflict(campaign, "started")
    return await Campaign.get(id=campaign.id), []


async def pause_campaign(info: Info, *, campaign_id: str) -> Result:
    return await _move(
        info, campaign_id, (CampaignStatus.RUNNING,), CampaignStatus.PAUSED, "paused"
    )


async def resume_campaign(info: Info, *, campaign_id: str) -> Result:
    campaign = await find_campaign(info, campaign_id)
    if campaign is None:
        return None, [not_found("campaignId", "campaign")]
    runtime = info.context.runtime
    if campaign.status is CampaignStatus.PAUSED and (
        no := await quota.check_resume(runtime, campaign)
    ):
        return campaign, [no.user_error("campaignId")]
    if not await begin_run(
        runtime.broker, runtime.queues, campaign.id, allowed=(CampaignStatus.PAUSED,)
    ):
        return campaign, _conflict(campaign, "resumed")
    return await Campaign.get(id=campaign.id), []


async def cancel_campaign(info: Info, *, campaign_id: str) -> Result:
    allowed = (
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.RUNNING,
        CampaignStatus.PAUSED,
    )
    campaign, errors = await _move(
        info, campaign_id, allowed, CampaignStatus.CANCELLED, "cancelled"
    )
    if campaign is not None and not errors:
        await CampaignRecipient.filter(
            campaign_id=campaign.id,
            status__in=(RecipientStatus.PENDING, RecipientStatus.CLAIMED),
        ).update(status=RecipientStatus.CANCELLED, lease_owner=None, lease_expires_at=None)
        await progress.counts_changed(
            info.context.runtime.broker, campaign.organization_id, campaign.id
        )
    return campaign, errors


async def _move(
    info: Info,
    campaign_id: str,
    allowed: tuple[CampaignStatus, ...],
    status: CampaignStatus,
    action: str,
) -> Result:
    campaign = await find_campaign(info, campaign_id)
    if campaign is None:
        return None, [not_found("campaignId", "campaign")]
    changes: dict[str, Any] = {"status": status, "updated_at": clock.now()}
    if status is CampaignStatus.CANCELLED:
        changes["finished_at"] = clock.now()
    if not await Campaign.filter(id=campaign.id, status__in=allowed).update(**changes):
        return campaign, _conflict(campaign, action)
    campaign = await Campaign.get(id=campaign.id)
    await progress.status_changed(info.context.runtime.broker, campaign)
    return campaign, []
