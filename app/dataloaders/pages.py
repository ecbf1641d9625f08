"""A page of each parent's child rows, filtered by status, in one statement per page shape.

A campaign's recipients and a webhook's deliveries are read the same way: the first
``limit + 1`` children of many parents in keyset (``id``) order, optionally of one status.
Both loaders are built here so the SQL and the grouping are written once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import TypeVar

from tortoise import connections
from tortoise.models import Model

from app.platform.pagination import PageArgs
from app.platform.sql import Binder
from app.platform.sql import columns as select_columns

M = TypeVar("M", bound=Model)
S = TypeVar("S", bound=Enum)


def child_page_sql(
    bind: Binder,
    model: type[Model],
    parent_column: str,
    parent_ids: Sequence[int],
    status: Enum | None,
    args: PageArgs,
) -> str:
    """``limit + 1`` rows of ``model`` for each of ``parent_ids`` in keyset order, in one
    statement: a LATERAL walk per parent on PostgreSQL (of the ``(campaign_id, status, id)``
    index for recipients), ``ROW_NUMBER()`` on SQLite. Placeholders are bound in the order
    they appear."""
    order = "DESC" if args.backwards else "ASC"
    columns = select_columns(model)
    table = model._meta.db_table
    if bind.postgres:
        parents = f"unnest({bind(list(parent_ids))}::bigint[]) AS p(id)"
        where = f'"{parent_column}" = p.id'
    else:
        parents = ""
        where = f'"{parent_column}" {bind.ids(list(parent_ids))}'
    if status is not None:
        where += f' AND "status" = {bind(status.value)}'
    if args.after is not None:
        where += f' AND "id" > {bind(args.after)}'
    if args.before is not None:
        where += f' AND "id" < {bind(args.before)}'
    if bind.postgres:
        return (
            f"SELECT {select_columns(model, 'c')} FROM {parents} CROSS JOIN LATERAL"
            f' (SELECT {columns} FROM "{table}" WHERE {where}'
            f' ORDER BY "id" {order} LIMIT {bind(args.limit + 1)}) AS c'
        )
    return (
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER"
        f' (PARTITION BY "{parent_column}" ORDER BY "id" {order}) AS "_rank" FROM "{table}"'
        f' WHERE {where}) AS ranked WHERE "_rank" <= {bind(args.limit + 1)}'
    )


def child_pages(
    model: type[M], parent_column: str
) -> Callable[[Sequence[tuple[int, S | None, PageArgs]]], Awaitable[list[list[M]]]]:
    """A DataLoader's load function: for keys ``(parent id, status or None, page)``, each
    parent's page of ``model`` rows, one statement per distinct (status, page) shape however
    many parents."""

    async def load(keys: Sequence[tuple[int, S | None, PageArgs]]) -> list[list[M]]:
        by_shape: dict[tuple[S | None, PageArgs], set[int]] = defaultdict(set)
        for parent_id, status, args in keys:
            by_shape[(status, args)].add(parent_id)
        pages: dict[tuple[int, S | None, PageArgs], list[M]] = {}
        connection = connections.get("default")
        for (status, args), parent_ids in by_shape.items():
            bind = Binder(connection)
            sql = child_page_sql(bind, model, parent_column, sorted(parent_ids), status, args)
            rows = await connection.execute_query_dict(sql, bind.params)
            grouped: dict[int, list[M]] = defaultdict(list)
            for row in sorted(rows, key=lambda row: row["id"], reverse=args.backwards):
                grouped[row[parent_column]].append(model._init_from_db(**row))
            for parent_id in parent_ids:
                pages[(parent_id, status, args)] = grouped.get(parent_id, [])
        return [pages[key] for key in keys]

    return load
