"""Batch loaders for campaigns: rows by id and recipient counts per status."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader
from tortoise.functions import Count

from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus


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


def campaign_by_id() -> DataLoader[int, Campaign | None]:
    return DataLoader(load_fn=_load_campaigns)


def recipient_counts() -> DataLoader[int, dict[RecipientStatus, int]]:
    return DataLoader(load_fn=_load_counts)
