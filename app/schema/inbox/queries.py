"""Inbox reads: the change log, search, teams."""

from __future__ import annotations

from operator import attrgetter

import strawberry

from app.platform.context import Info
from app.platform.pagination import page_args
from app.resolvers.inbox import sync
from app.schema.inbox.types import InboxChangeConnection, InboxEvent
from app.schema.pagination import build_connection
from app.schema.permissions import IsAuthenticated


@strawberry.type
class InboxQuery:
    @strawberry.field(
        description="Every change of the organization's inbox, in order (messages created, "
        "statuses, edits; conversations created, read, assigned, closed, ...): a client that "
        "was away pages from its last `cursor` and applies them. A cursor older than the "
        "retention window answers CURSOR_EXPIRED: refetch the inbox.",
        permission_classes=[IsAuthenticated],
    )
    async def inbox_changes(
        self, info: Info, after: str | None = None, first: int | None = None
    ) -> InboxChangeConnection:
        args = page_args(first, after)
        rows, head = await sync.changes(info, args)
        page = build_connection(rows, args, lambda row: InboxEvent(row=row), attrgetter("seq"))
        return InboxChangeConnection(edges=page.edges, page_info=page.page_info, head=head)
