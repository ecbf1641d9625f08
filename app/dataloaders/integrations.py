"""Batch loaders for integrations: a page of each webhook's deliveries.

Rows reached through a webhook are scoped already: the webhook was read for the caller's
organization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader
from tortoise import connections

from app.models.integrations import WebhookDelivery, WebhookDeliveryStatus
from app.platform.pagination import PageArgs
from app.platform.sql import Binder
from app.platform.sql import columns as select_columns

DeliveryPageKey = tuple[int, WebhookDeliveryStatus | None, PageArgs]


def _delivery_page_sql(
    bind: Binder,
    webhook_ids: Sequence[int],
    status: WebhookDeliveryStatus | None,
    args: PageArgs,
) -> str:
    """``limit + 1`` deliveries of each webhook in keyset order, in one statement: a LATERAL
    walk per webhook on PostgreSQL, ``ROW_NUMBER()`` on SQLite. Placeholders are bound in the
    order they appear."""
    order = "DESC" if args.backwards else "ASC"
    columns = select_columns(WebhookDelivery)
    table = WebhookDelivery._meta.db_table
    if bind.postgres:
        parents = f"unnest({bind(list(webhook_ids))}::bigint[]) AS w(id)"
        where = '"webhook_id" = w.id'
    else:
        parents = ""
        where = f'"webhook_id" {bind.ids(list(webhook_ids))}'
    if status is not None:
        where += f' AND "status" = {bind(status.value)}'
    if args.after is not None:
        where += f' AND "id" > {bind(args.after)}'
    if args.before is not None:
        where += f' AND "id" < {bind(args.before)}'
    if bind.postgres:
        return (
            f"SELECT {select_columns(WebhookDelivery, 'd')} FROM {parents} CROSS JOIN LATERAL"
            f' (SELECT {columns} FROM "{table}" WHERE {where}'
            f' ORDER BY "id" {order} LIMIT {bind(args.limit + 1)}) AS d'
        )
    return (
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER"
        f' (PARTITION BY "webhook_id" ORDER BY "id" {order}) AS "_rank" FROM "{table}"'
        f' WHERE {where}) AS ranked WHERE "_rank" <= {bind(args.limit + 1)}'
    )


async def _load_delivery_pages(keys: Sequence[DeliveryPageKey]) -> list[list[WebhookDelivery]]:
    """One statement per distinct (status, page) shape, however many webhooks."""
    by_shape: dict[tuple[WebhookDeliveryStatus | None, PageArgs], set[int]] = defaultdict(set)
    for webhook_id, status, args in keys:
        by_shape[(status, args)].add(webhook_id)
    pages: dict[DeliveryPageKey, list[WebhookDelivery]] = {}
    connection = connections.get("default")
    for (status, args), webhook_ids in by_shape.items():
        bind = Binder(connection)
        sql = _delivery_page_sql(bind, sorted(webhook_ids), status, args)
        rows = await connection.execute_query_dict(sql, bind.params)
        grouped: dict[int, list[WebhookDelivery]] = defaultdict(list)
        for row in sorted(rows, key=lambda row: row["id"], reverse=args.backwards):
            grouped[row["webhook_id"]].append(WebhookDelivery._init_from_db(**row))
        for webhook_id in webhook_ids:
            pages[(webhook_id, status, args)] = grouped.get(webhook_id, [])
    return [pages[key] for key in keys]


def deliveries_by_webhook() -> DataLoader[DeliveryPageKey, list[WebhookDelivery]]:
    return DataLoader(load_fn=_load_delivery_pages)
