"""Inbox reads: the change log, search, teams."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

import strawberry

from app.platform.context import Info
from app.platform.pagination import DEFAULT_PAGE_SIZE, page_args
from app.resolvers.inbox import search, sync, teams
from app.schema.accounts.teams import Team
from app.schema.inbox.mutations import InboxSettings
from app.schema.inbox.types import InboxChangeConnection, InboxEvent
from app.schema.messaging.types import Contact, Message
from app.schema.node import register_node
from app.schema.pagination import Connection, build_connection, ranked_connection
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

    @strawberry.field(
        description="The organization's messages whose text matches `query` (every word; the "
        "last one may be the start of a word), best match first, then newest.",
        permission_classes=[IsAuthenticated],
    )
    async def search_messages(
        self, info: Info, query: str, first: int | None = None, after: str | None = None
    ) -> Connection[Message]:
        rows, cursors = await search.messages(info, query, first, after)
        return ranked_connection(
            rows,
            cursors,
            first if first is not None else DEFAULT_PAGE_SIZE,
            after,
            Message.from_model,
        )

    @strawberry.field(
        description="The organization's contacts whose name or number matches `query`, then "
        "those whose messages do, best match first.",
        permission_classes=[IsAuthenticated],
    )
    async def search_contacts(
        self, info: Info, query: str, first: int | None = None, after: str | None = None
    ) -> Connection[Contact]:
        rows, cursors = await search.contacts(info, query, first, after)
        return ranked_connection(
            rows,
            cursors,
            first if first is not None else DEFAULT_PAGE_SIZE,
            after,
            Contact.from_model,
        )

    @strawberry.field(description="The organization's teams.", permission_classes=[IsAuthenticated])
    async def teams(self, info: Info) -> list[Team]:
        return [Team.from_model(row) for row in await teams.teams(info)]

    @strawberry.field(
        description="How the organization's inbox routes and searches.",
        permission_classes=[IsAuthenticated],
    )
    async def inbox_settings(self, info: Info) -> InboxSettings:
        return InboxSettings.from_model(await teams.inbox_settings(info))


async def _teams(info: Info, ids: Sequence[int]) -> list[object | None]:
    rows = await teams.teams_by_id(info, ids)
    return [Team.from_model(rows[i]) if i in rows else None for i in ids]


register_node("Team", _teams)
