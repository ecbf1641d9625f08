"""What the campaign list fields and node fetchers read, scoped to the caller's organization."""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.queryset import QuerySet

from app.models.campaigns import Campaign, CampaignRecipient, CampaignStatus
from app.platform.context import Info
from app.platform.scope import organization_id


def campaigns(info: Info, status: CampaignStatus | None) -> QuerySet[Campaign]:
    queryset = Campaign.filter(organization_id=organization_id(info))
    if status is not None:
        queryset = queryset.filter(status=status)
    return queryset


async def campaign(info: Info, pk: int) -> Campaign | None:
    return await Campaign.get_or_none(id=pk, organization_id=organization_id(info))


async def recipients(info: Info, pks: Sequence[int]) -> list[CampaignRecipient | None]:
    """Recipients by id, None for one of another organization."""
    found = {
        row.id: row
        for row in await CampaignRecipient.filter(
            id__in=list(pks), campaign__organization_id=organization_id(info)
        )
    }
    return [found.get(pk) for pk in pks]
