"""Batch loaders for campaigns: rows by id, recipient counts per status, recipient pages.

Rows reached through a campaign are scoped already: the campaign was read for the caller's
organization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader
from tortoise import connections
from tortoise.functions import Count

from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.platform.pagination import PageArgs
from app.platform.sql import Binder
from app.platform.sql import columns as select_columns

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


def _recipient_page_sql(
    bind: Binder, campaign_ids: Sequence[int], status: RecipientStatus | None, args: PageArgs
) -> str:
    """``limit + 1`` recipients of each campaign in keyset order, in one statement: a LATERAL
    walk of the ``(campaign_id, status, id)`` / primary key index per campaign on PostgreSQL,
    ``ROW_NUMBER()`` on SQLite. Placeholders are bound in the order they appear."""
    order = "DESC" if args.backwards else "ASC"
    columns = select_columns(CampaignRecipient)
    table = CampaignRecipient._meta.db_table
    if bind.postgres:
        parents = f"unnest({bind(list(campaign_ids))}::bigint[]) AS c(id)"
        where = '"campaign_id" = c.id'
    else:
        parents = ""
        where = f'"campaign_id" {bind.ids(list(campaign_ids))}'
    if status is not None:
        where += f' AND "status" = {bind(status.value)}'
    if args.after is not None:
        where += f' AND "id" > {bind(args.after)}'
    if args.before is not None:
        where += f' AND "id" < {bind(args.before)}'
    if bind.postgres:
        return (
            f"SELECT {select_columns(CampaignRecipient, 'r')} FROM {parents} CROSS JOIN LATERAL"
            f' (SELECT {columns} FROM "{table}" WHERE {where}'
            f' ORDER BY "id" {order} LIMIT {bind(args.limit + 1)}) AS r'
        )
    return (
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER"
        f' (PARTITION BY "campaign_id" ORDER BY "id" {order}) AS "_rank" FROM "{table}"'
        f' WHERE {where}) AS ranked WHERE "_rank" <= {bind(args.limit + 1)}'
    )


async def _load_recipient_pages(keys: Sequence[RecipientPageKey]) -> list[list[CampaignRecipient]]:
    """One statement per distinct (status, page) shape, however many campaigns."""
    by_shape: dict[tuple[RecipientStatus | None, PageArgs], set[int]] = defaultdict(set)
    for campaign_id, status, args in keys:
        by_shape[(status, args)].add(campaign_id)
    pages: dict[RecipientPageKey, list[CampaignRecipient]] = {}
    connection = connections.get("default")
    for (status, args), campaign_ids in by_shape.items():
        bind = Binder(connection)
        sql = _recipient_page_sql(bind, sorted(campaign_ids), status, args)
        rows = await connection.execute_query_dict(sql, bind.params)
        grouped: dict[int, list[CampaignRecipient]] = defaultdict(list)
        for row in sorted(rows, key=lambda row: row["id"], reverse=args.backwards):
            grouped[row["campaign_id"]].append(CampaignRecipient._init_from_db(**row))
        for campaign_id in campaign_ids:
            pages[(campaign_id, status, args)] = grouped.get(campaign_id, [])
    return [pages[key] for key in keys]


def recipients_by_campaign() -> DataLoader[RecipientPageKey, list[CampaignRecipient]]:
    return DataLoader(load_fn=_load_recipient_pages)
