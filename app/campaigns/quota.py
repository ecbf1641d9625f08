"""A campaign's sends against its organization's plan: counted once each, paused at the limit.

Each batch reserves its messages (``message:<id>``, so a retried or reconciled send is never
counted twice) after its recipients are SENDING and before anything goes to the provider. The
recipients the plan has no room for go back to PENDING, untouched, and the campaign is PAUSED
with the reason; resuming after an upgrade sends them. A send in an open service window counts
but is never refused by the marketing limit. A send the provider refused for good is given back.
Counted under our category (the template's) here; Meta's pricing category, when its status
webhooks report another, moves the count (app.plans.metering).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise.expressions import F

from app.campaigns import progress
from app.campaigns.audience import marketing_audience
from app.campaigns.bulk import Claimed, Queued
from app.models.campaigns import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from app.models.messaging import Conversation, Template, service_window_open
from app.plans import metering, quotas
from app.plans.limits import Limit, message_limit
from app.plans.quotas import LimitExceeded
from app.platform import clock

if TYPE_CHECKING:
    from app.platform.runtime import Runtime

# A template the organization has not synced is taken for what campaigns mostly send.
UNKNOWN_TEMPLATE_CATEGORY = "MARKETING"


def message_key(message_id: int) -> str:
    return metering.message_key(message_id)


async def category_of(campaign: Campaign) -> str:
    """The category of the campaign's messages: its template's, or SERVICE for free-form text."""
    if campaign.text is not None:
        return "SERVICE"
    template = await Template.get_or_none(
        device_id=campaign.device_id,
        name=campaign.template_name,
        language=campaign.template_language,
    )
    return (template.category if template else UNKNOWN_TEMPLATE_CATEGORY).upper()


async def check_start(runtime: Runtime, campaign: Campaign) -> LimitExceeded | None:
    """Refuse a start whose audience needs more messages than the month has left.

    Only sends the limit could refuse are counted: contacts whose service window is open, and
    free-form text (it only goes into open windows), never count against it.
    """
    limit = message_limit(await category_of(campaign))
    if campaign.text is not None or limit is Limit.SERVICE_MESSAGES:
        return None
    state = await quotas.standing(runtime, campaign.organization_id, limit)
    if state.allowed is None:
        return None
    used = await quotas.used(campaign.organization_id, limit, state.period)
    needed = await marketing_audience(campaign)
    if used + needed <= state.allowed:
        return None
    return LimitExceeded(limit, state.plan.name, state.allowed, used, needed)


async def check_resume(runtime: Runtime, campaign: Campaign) -> LimitExceeded | None:
    """Refuse a resume while the limit the campaign paused at has no room left."""
    limit = message_limit(await category_of(campaign))
    if campaign.text is not None or limit is Limit.SERVICE_MESSAGES:
        return None
    state = await quotas.standing(runtime, campaign.organization_id, limit)
    if state.allowed is None:
        return None
    used = await quotas.used(campaign.organization_id, limit, state.period)
    if used < state.allowed:
        return None
    pending = await CampaignRecipient.filter(
        campaign_id=campaign.id, status=RecipientStatus.PENDING
    ).count()
    return LimitExceeded(limit, state.plan.name, state.allowed, used, pending)


@dataclass
class CampaignQuota:
    runtime: Runtime
    campaign: Campaign
    limit: Limit

    @classmethod
    async def of(cls, runtime: Runtime, campaign: Campaign) -> CampaignQuota:
        return cls(runtime, campaign, message_limit(await category_of(campaign)))

    async def take(self, batch: list[Claimed], messages: dict[int, Queued]) -> list[Claimed]:
        """The recipients of ``batch`` whose sends the plan has room for (counted now); the
        others are PENDING again and the campaign PAUSED, saying why."""
        if not batch:
            return batch
        keys = {r.id: message_key(messages[r.id].id) for r in batch}
        free = await self._free(batch, messages)
        reserved = await quotas.reserve_each(
            self.runtime,
            self.campaign.organization_id,
            self.limit,
            list(keys.values()),
            free=[keys[r.id] for r in batch if r.id in free],
        )
        refused = [r.id for r in batch if keys[r.id] not in reserved.granted]
        if refused:
            await _hand_back(refused)
        if reserved.refusal is not None:
            await self.pause(reserved.refusal)
        return [r for r in batch if keys[r.id] in reserved.granted]

    async def give_back(self, message_id: int) -> None:
        """A send the provider refused for good: it never happened."""
        await quotas.release(self.campaign.organization_id, self.limit, key=message_key(message_id))

    async def give_back_many(self, message_ids: list[int]) -> None:
        """Sends a pause or a cancel stopped before they went: never happened."""
        await quotas.release_each(
            self.campaign.organization_id, self.limit, [message_key(i) for i in message_ids]
        )

    async def pause(self, refusal: LimitExceeded) -> None:
        moved = await Campaign.filter(id=self.campaign.id, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.PAUSED, pause_reason=refusal.message, updated_at=clock.now()
        )
        if moved:
            await progress.status_changed(
                self.runtime.broker, await Campaign.get(id=self.campaign.id)
            )

    async def _free(self, batch: list[Claimed], messages: dict[int, Queued]) -> set[int]:
        """Recipients whose send the limit never refuses: all of them unless it is the
        marketing limit; for that one, those whose service window is open."""
        if self.limit is not Limit.MARKETING_MESSAGES:
            return {r.id for r in batch} if self.limit is Limit.SERVICE_MESSAGES else set()
        windows = dict(
            await Conversation.filter(
                id__in=[messages[r.id].conversation_id for r in batch]
            ).values_list("id", "last_inbound_at")
        )
        now = clock.now()
        return {
            r.id
            for r in batch
            if service_window_open(windows.get(messages[r.id].conversation_id), now)
        }


async def _hand_back(recipient_ids: list[int]) -> None:
    """Recipients the plan had no room for: PENDING as before the claim, this try not counted."""
    await CampaignRecipient.filter(id__in=recipient_ids, status=RecipientStatus.SENDING).update(
        status=RecipientStatus.PENDING,
        attempts=F("attempts") - 1,
        lease_owner=None,
        lease_expires_at=None,
    )
