"""Relay cursor connections over keyset pagination.

Pages are cut on an indexed, unique, monotonic column (``id`` by default): ``first``/``after``
reads ``id > cursor ORDER BY id LIMIT first + 1``; ``last``/``before`` reads in reverse and
flips the page. No offset is ever used and no list larger than one page (+1) is ever loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.queryset import QuerySet

from app.platform.pagination import PageArgs, encode_cursor

T = TypeVar("T")


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def _cursor(edge: strawberry.Parent[Edge[Any]]) -> str:
    return edge.token if edge.token is not None else encode_cursor(edge.key)


@strawberry.type(description="One item of a page with its cursor.")
class Edge(Generic[T]):
    # The cursor is encoded when asked for: most reads never select it (the inbox's 500
    # message edges), and it cost as much as the node's global id.
    cursor: str = strawberry.field(resolver=_cursor)
    node: T
    key: strawberry.Private[int]
    # A cursor of another kind than the key's (a ranked search's score and id).
    token: strawberry.Private[str | None] = None


@strawberry.type(description="A page of items; ask for the next with `after: pageInfo.endCursor`.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def build_connection(
    rows: Sequence[Any],
    args: PageArgs,
    to_node: Callable[[Any], T],
    key: Callable[[Any], int] = attrgetter("id"),
) -> Connection[T]:
    """Turn ``limit + 1`` rows read in keyset order into a connection page."""
    has_more = len(rows) > args.limit
    page = list(rows[: args.limit])
    if args.backwards:
        page.reverse()
    edges = [Edge(node=to_node(row), key=key(row)) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_more if not args.backwards else args.before is not None,
            has_previous_page=has_more if args.backwards else args.after is not None,
            start_cursor=encode_cursor(edges[0].key) if edges else None,
            end_cursor=encode_cursor(edges[-1].key) if edges else None,
        ),
    )


def ranked_connection(
    rows: Sequence[Any],
    tokens: Sequence[str],
    limit: int,
    after: str | None,
    to_node: Callable[[Any], T],
) -> Connection[T]:
    """A page of ``limit + 1`` rows read best first, each with its own cursor ``token``."""
    edges = [
        Edge(node=to_node(row), key=row.id, token=token)
        for row, token in zip(rows[:limit], tokens[:limit], strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > limit,
            has_previous_page=after is not None,
            start_cursor=edges[0].token if edges else None,
            end_cursor=edges[-1].token if edges else None,
        ),
    )


async def paginate(
    queryset: QuerySet[Any], args: PageArgs, to_node: Callable[[Any], T]
) -> Connection[T]:
    """Keyset-paginate ``queryset`` (already scoped to the organization) on ``id``."""
    if args.limit == 0:
        return build_connection([], args, to_node)
    if args.backwards:
        if args.before is not None:
            queryset = queryset.filter(id__lt=args.before)
        if args.after is not None:
            queryset = queryset.filter(id__gt=args.after)
        rows = await queryset.order_by("-id").limit(args.limit + 1)
    else:
        if args.after is not None:
            queryset = queryset.filter(id__gt=args.after)
        if args.before is not None:
            queryset = queryset.filter(id__lt=args.before)
        rows = await queryset.order_by("id").limit(args.limit + 1)
    return build_connection(rows, args, to_node)
