"""Batch loaders for campaigns: rows by id, recipient counts per status, recipient pages.

Rows reached through a campaign are scoped already: the campaign was read for the caller's
organization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader
from tortoise.functions import Count

from app.dataloaders.pages import child_pages
from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.platform.pagination import PageArgs

RecipientPageKey = tuple[int, RecipientStatus | None, PageArgs]


async def _load_campaigns(keys: Sequence[int]) -> list[Campaign | None]:
    rows = {row.pk: row for row in await Campaign.filter(id__in=list(set(keys)))}
    return [rows.get(key) for key in keys]


async def _load_counts(keys: Sequence[int]) -> list[dict[RecipientStatus, int]]:
    rows = (
        await CampaignRecipient.filter(campaign_id__in=list(set(keys)))
        .annotate(n=Count("id"))
        .group_by("campaign_id", "status")
        .values_list("campaign_id", "status", "n")
    )
    counts: dict[int, dict[RecipientStatus, int]] = {key: {} for key in keys}
    for campaign_id, status, n in rows:
        counts[campaign_id][RecipientStatus(status)] = n
    return [counts[key] for key in keys]


@dataclass(frozen=True, slots=True)
class CategoryCount:
    """A campaign's messages of one Meta pricing category, and how many of them are charged."""

    category: str
    messages: int
    billable: int


async def _load_categories(keys: Sequence[int]) -> list[list[CategoryCount]]:
    """Per campaign, its messages by the pricing category Meta's status webhooks gave."""
    rows = (
        await CampaignRecipient.filter(
            campaign_id__in=list(set(keys)), message__pricing_category__isnull=False
        )
        .annotate(n=Count("id"))
        .group_by("campaign_id", "message__pricing_category", "message__billable")
        .values_list("campaign_id", "message__pricing_category", "message__billable", "n")
    )
    counts: dict[int, dict[str, list[int]]] = defaultdict(dict)
    for campaign_id, category, billable, n in rows:
        total = counts[campaign_id].setdefault(category, [0, 0])
        total[0] += n
        total[1] += n if billable else 0
    return [[CategoryCount(c, m, b) for c, (m, b) in sorted(counts[key].items())] for key in keys]


def categories_by_campaign() -> DataLoader[int, list[CategoryCount]]:
    return DataLoader(load_fn=_load_categories)


def campaign_by_id() -> DataLoader[int, Campaign | None]:
    return DataLoader(load_fn=_load_campaigns)


def recipient_counts() -> DataLoader[int, dict[RecipientStatus, int]]:
    return DataLoader(load_fn=_load_counts)


def recipients_by_campaign() -> DataLoader[RecipientPageKey, list[CampaignRecipient]]:
    return DataLoader(load_fn=child_pages(CampaignRecipient, "campaign_id"))
