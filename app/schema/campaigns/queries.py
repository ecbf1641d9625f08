"""Campaign lists, node fetchers and live progress."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import strawberry

from app.dataloaders import campaigns as loaders
from app.models.accounts import Role
from app.platform import events
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.pagination import page_args
from app.platform.scope import in_organization, organization_id
from app.resolvers import subscriptions
from app.resolvers.campaigns import lists
from app.schema.campaigns.types import Campaign, CampaignRecipient, CampaignStatus
from app.schema.node import register_node
from app.schema.pagination import Connection, paginate
from app.schema.permissions import HasRole

AGENT = [HasRole(Role.AGENT)]


@strawberry.type
class CampaignsQuery:
    @strawberry.field(
        description="The organization's campaigns, oldest first (AGENT+).", permission_classes=AGENT
    )
    async def campaigns(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: CampaignStatus | None = None,
    ) -> Connection[Campaign]:
        queryset = lists.campaigns(info, status)
        return await paginate(queryset, page_args(first, after), Campaign.from_model)


@strawberry.type
class CampaignsSubscription:
    @strawberry.subscription(
        description="A campaign now, then again at each status change and as its counts move "
        "(a few times a second at most), up to and including its final state (AGENT+).",
        permission_classes=AGENT,
    )
    async def campaign_progress(
        self, info: Info, campaign_id: strawberry.ID
    ) -> AsyncGenerator[Campaign, None]:
        pk = decode_id(campaign_id, "Campaign", field="campaignId")
        org_id = organization_id(info)
        row = await lists.campaign(info, pk)
        if row is None:
            return
        yield Campaign.from_model(row)
        async for _ in subscriptions.stream(
            info, events.CAMPAIGNS, lambda e: e["campaign_id"] == pk
        ):
            found = in_organization(
                [await info.context.loaders.get(loaders.campaign_by_id).load(pk)], org_id
            )[0]
            if found is not None:
                yield Campaign.from_model(found)


async def _fetch_campaigns(info: Info, pks: Sequence[int]) -> Sequence[Any | None]:
    if not _may_read(info):
        return [None] * len(pks)
    rows = await info.context.loaders.get(loaders.campaign_by_id).load_many(list(pks))
    return [
        Campaign.from_model(r) if r else None for r in in_organization(rows, organization_id(info))
    ]


async def _fetch_recipients(info: Info, pks: Sequence[int]) -> Sequence[Any | None]:
    if not _may_read(info):
        return [None] * len(pks)
    rows = await lists.recipients(info, pks)
    return [CampaignRecipient.from_model(row) if row is not None else None for row in rows]


def _may_read(info: Info) -> bool:
    viewer = info.context.viewer
    return viewer is not None and viewer.role is not None and viewer.role.at_least(Role.AGENT)


register_node("Campaign", _fetch_campaigns)
register_node("CampaignRecipient", _fetch_recipients)
